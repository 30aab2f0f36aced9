"""The case page (evidence, timeline, merchant and their history) and its action buttons, which go through
the case service's own action path (`api.routes.cases.perform_action` -> `api.workflow`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException
from fastapi.responses import Response
from sqlalchemy import select

from api.db.models import Case, CaseEvent, CaseState, Evidence
from api.deps import PathId
from api.routes.cases import evidence_response, perform_action
from api.schemas.cases import ActionRequest
from api.web.context import DbDep, StaffPage, safe_next
from api.workflow import Action, TransitionError, allowed_actions, role_may

router = APIRouter()

#: Order of the buttons on the case page.
ACTION_ORDER = [a.value for a in (Action.CONFIRM, Action.REJECT, Action.NOTIFY, Action.ESCALATE, Action.VERIFY,
                                  Action.REPORT_FIXED, Action.FEEDBACK, Action.CLOSE, Action.REOPEN)]


def _case(db: DbDep, case_id: int) -> Case:
    case = db.get(Case, case_id)
    if case is None:
        raise HTTPException(404, f"case {case_id} not found")
    return case


@router.get("/cases/{case_id}", include_in_schema=False)
def case_page(case_id: PathId, page: StaffPage, db: DbDep) -> Response:
    case = db.get(Case, case_id)
    if case is None:
        return page.render("error.html", status_code=404, title=page.t("error.not_found"),
                           message=f"#{case_id}")
    assert page.user is not None
    allowed = allowed_actions(case)
    actions = [a for a in ACTION_ORDER if a in allowed and role_may(page.user.role, Action(a), case)]
    evidence = list(db.scalars(select(Evidence).where(Evidence.case_id == case.id).order_by(Evidence.id)))
    events = list(db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)))
    history = []
    if case.merchant_id is not None:
        history = list(db.scalars(select(Case).where(Case.merchant_id == case.merchant_id, Case.id != case.id)
                                  .order_by(Case.created_at.desc(), Case.id.desc()).limit(10)).unique())
    flash, flash_kind = page.read_flash()
    return page.render("case.html", case=case, actions=actions, evidence=evidence, events=events,
                       history=history, flash=flash, flash_kind=flash_kind,
                       frames=[e for e in evidence if e.kind in ("frame", "photo") and e.purged_at is None],
                       crops=[e for e in evidence if e.kind == "crop" and e.purged_at is None],
                       clips=[e for e in evidence if e.content_type == "video/mp4" and e.purged_at is None])


@router.post("/cases/{case_id}/action", include_in_schema=False)
def case_action(case_id: PathId, page: StaffPage, db: DbDep, action: Annotated[str, Form(max_length=40)],
                csrf_token: Annotated[str, Form()] = "", note: Annotated[str, Form(max_length=2000)] = "",
                version: Annotated[str, Form(max_length=20)] = "",
                next: Annotated[str, Form(max_length=2000)] = "") -> Response:
    if (refused := page.csrf_refused(csrf_token)) is not None:
        return refused
    case = _case(db, case_id)
    back = safe_next(next, f"/cases/{case_id}")
    try:
        act = Action(action)
    except ValueError:
        return page.redirect(page.with_flash(back, page.t("case.conflict", detail=f"unknown action '{action[:40]}'"),
                                             "error"))
    assert page.user is not None
    try:
        result = perform_action(page.request, db, page.request.app.state.settings, page.now(), page.user, case, act,
                      ActionRequest(note=note.strip() or None,
                                    version=int(version) if version.isdigit() else None))
    except TransitionError as exc:
        db.rollback()
        return page.redirect(page.with_flash(back, page.t("case.conflict", detail=exc.detail), "error"))
    except HTTPException as exc:
        db.rollback()
        if exc.status_code == 403:
            return page.redirect(page.with_flash(back, page.t("case.conflict", detail=page.t("error.forbidden")),
                                                 "error"))
        raise
    db.commit()  # before the redirect is followed: the next page must see the new state
    done = page.t("case.done", steps=", ".join(page.t.action(a) for a, _ in result.steps))
    return page.redirect(page.with_flash(back, f"#{case.id} {done}"))


@router.get("/cases/{case_id}/next", include_in_schema=False)
def next_case(case_id: PathId, page: StaffPage, db: DbDep) -> Response:
    """The next case waiting for review after this one (oldest first), else the queue."""
    waiting = select(Case.id).where(Case.state == CaseState.DETECTED.value)
    nxt = db.scalar(waiting.where(Case.id > case_id).order_by(Case.id).limit(1)) or db.scalar(
        waiting.where(Case.id != case_id).order_by(Case.id).limit(1))
    return page.redirect(f"/cases/{nxt}" if nxt else "/queue?state=detected")


@router.get("/evidence/{evidence_id}", include_in_schema=False)
def staff_evidence(evidence_id: PathId, page: StaffPage, db: DbDep) -> Response:
    row = db.get(Evidence, evidence_id)
    if row is None:
        raise HTTPException(404, "evidence not found")
    response = evidence_response(page.request.app.state.settings, row)
    response.headers["Content-Security-Policy"] = "default-src 'none'; media-src 'self'; img-src 'self'"
    return response
