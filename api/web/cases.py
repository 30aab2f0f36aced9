"""The case page (evidence, timeline, merchant and their history) and its action buttons, which go through
the case service's own action path (`api.services.cases.perform_action` -> `api.workflow`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response
from pydantic import ValidationError

from api.db.models import Case
from api.deps import PathId
from api.schemas.cases import ActionRequest
from api.services import cases as case_service
from api.services import evidence as evidence_service
from api.services.errors import Forbidden, ServiceError
from api.services.known_objects import remember_objects
from api.services.privacy import audit_original
from api.web.context import DbDep, StaffPage, safe_next
from api.workflow import Action, TransitionError

router = APIRouter()

#: Order of the buttons on the case page.
ACTION_ORDER = [a.value for a in (Action.CONFIRM, Action.REJECT, Action.NOTIFY, Action.ESCALATE, Action.VERIFY,
                                  Action.REPORT_FIXED, Action.FEEDBACK, Action.CLOSE, Action.REOPEN)]


@router.get("/cases/{case_id}", include_in_schema=False)
def case_page(case_id: PathId, page: StaffPage, db: DbDep) -> Response:
    case = db.get(Case, case_id)
    if case is None:
        return page.render("error.html", status_code=404, title=page.t("error.not_found"),
                           message=f"#{case_id}")
    assert page.user is not None
    actions = case_service.actions_for(page.user, case, ACTION_ORDER)
    evidence = case_service.evidence_of(db, case)
    events = case_service.events_of(db, case)
    history = case_service.merchant_history(db, case)
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
                next: Annotated[str, Form(max_length=2000)] = "",
                remember: Annotated[str, Form(max_length=5)] = "") -> Response:
    if (refused := page.csrf_refused(csrf_token)) is not None:
        return refused
    case = case_service.load_case(db, case_id)
    back = safe_next(next, f"/cases/{case_id}")
    try:
        act = Action(action)
    except ValueError:
        return page.redirect(page.with_flash(back, page.t("case.conflict", detail=f"unknown action '{action[:40]}'"),
                                             "error"))
    assert page.user is not None
    try:
        body = ActionRequest(note=note.strip() or None,
                             version=int(version) if version.isascii() and version.isdigit() else None)
    except ValidationError as exc:
        why = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())
        return page.redirect(page.with_flash(back, page.t("error.bad_input", detail=why), "error"))
    app = page.request.app
    try:
        result = case_service.perform_action(db, app.state.settings, app.state.metrics, page.now(), page.user, case,
                                             act, body)
    except TransitionError as exc:
        db.rollback()
        return page.redirect(page.with_flash(back, page.t("case.conflict", detail=exc.detail), "error"))
    except Forbidden:
        db.rollback()
        return page.redirect(page.with_flash(back, page.t("case.conflict", detail=page.t("error.forbidden")),
                                             "error"))
    remembered = ""
    if remember and act == Action.REJECT:  # "not a violation here - remember this object" (issue 16)
        try:
            known = remember_objects(db, app.state.settings, case, f"user:{page.user.username}", page.now(),
                                     note.strip()[:200] or None)
            remembered = " · " + page.t("case.remembered", count=len(known))
        except ServiceError as exc:
            remembered = f" · {exc.detail}"
    db.commit()  # before the redirect is followed: the next page must see the new state
    done = page.t("case.done", steps=", ".join(page.t.action(a) for a, _ in result.steps)) + remembered
    return page.redirect(page.with_flash(back, f"#{case.id} {done}"))


@router.get("/cases/{case_id}/next", include_in_schema=False)
def next_case(case_id: PathId, page: StaffPage, db: DbDep) -> Response:
    """The next case waiting for review after this one (oldest first), else the queue."""
    nxt = case_service.next_waiting(db, case_id)
    return page.redirect(f"/cases/{nxt}" if nxt else "/queue?state=detected")


@router.get("/evidence/{evidence_id}", include_in_schema=False)
def staff_evidence(evidence_id: PathId, page: StaffPage, db: DbDep) -> Response:
    row = evidence_service.staff_evidence(db, evidence_id)
    response = evidence_service.evidence_response(page.request.app.state.settings, row)
    audit_original(db, row, f"user:{page.user.username}", page.now(), via="console")  # PRIVACY.md
    response.headers["Content-Security-Policy"] = "default-src 'none'; media-src 'self'; img-src 'self'"
    return response
