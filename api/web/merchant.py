"""The merchant's page ``/m/{token}`` (phone-first): their open cases with the evidence photo, a "fixed it"
form with a photo, and their history. Nothing of staff or of other merchants is reachable from here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, UploadFile
from fastapi.responses import Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from api.db.models import Case, CaseState, Evidence, Merchant
from api.deps import PathId, get_current_merchant
from api.evidence import EvidenceError
from api.schemas.types import CleanText
from api.services import cases as case_service
from api.services.cases import MERCHANT_VISIBLE_STATES as MERCHANT_VISIBLE
from api.services.errors import NotFound
from api.services.evidence import check_photo
from api.services.privacy import merchant_response
from api.services.standing import for_merchant as merchant_standing
from api.web.context import DbDep, Page, PageDep
from api.workflow import TransitionError

router = APIRouter()

#: States shown under "to fix" (the rest of the visible ones are history).
OPEN_FOR_MERCHANT = (CaseState.NOTIFIED.value, CaseState.MERCHANT_REPORTED_FIXED.value,
                     CaseState.ESCALATED.value, CaseState.RECHECK.value, CaseState.REOPENED.value)


#: How a state reads to the merchant (the staff wording elsewhere).
MERCHANT_LABELS = {CaseState.NOTIFIED.value: "merchant.open",
                   CaseState.MERCHANT_REPORTED_FIXED.value: "merchant.reported",
                   CaseState.ESCALATED.value: "merchant.escalated"}


def _merchant(page: Page, db: DbDep, token: str) -> Merchant | None:
    try:
        return get_current_merchant(page.request, db, page.request.app.state.clock, token)
    except HTTPException:
        return None


def _invalid(page: Page) -> Response:
    return page.render("merchant_invalid.html", status_code=404)


def _own_case(db: DbDep, merchant: Merchant, case_id: int) -> Case | None:
    try:
        return case_service.merchant_case(db, merchant, case_id)
    except NotFound:
        return None  # another merchant's case looks exactly like a missing one


def _render(page: Page, db: DbDep, merchant: Merchant, token: str, flash: str | None = None,
            flash_kind: str = "ok", status_code: int = 200) -> Response:
    cases = list(db.scalars(select(Case).where(Case.merchant_id == merchant.id, Case.state.in_(MERCHANT_VISIBLE))
                            .order_by(Case.created_at.desc(), Case.id.desc()).limit(100)).unique())
    photos: dict[int, list[Evidence]] = {}
    if cases:
        for e in db.scalars(select(Evidence).where(Evidence.case_id.in_([c.id for c in cases]),
                                                   Evidence.kind.in_(["frame", "crop", "photo"]),
                                                   Evidence.purged_at.is_(None)).order_by(Evidence.id)):
            photos.setdefault(e.case_id, []).append(e)
    open_cases = [c for c in cases if c.state in OPEN_FOR_MERCHANT]
    history = [c for c in cases if c.state not in OPEN_FOR_MERCHANT]
    return page.render("merchant.html", status_code=status_code, merchant=merchant, token=token,
                       open_cases=open_cases, history=history, photos=photos, flash=flash, flash_kind=flash_kind,
                       standing=merchant_standing(db, merchant, page.request.app.state.settings.standing_rules,
                                                  page.now(), page.lang, lambda d: page.fmt_time(d, True)[:10]),
                       can_report=lambda c: c.state == CaseState.NOTIFIED.value,
                       merchant_state=lambda state: page.t(MERCHANT_LABELS[state]) if state in MERCHANT_LABELS
                       else page.t.state(state))


@router.get("/m/{token}", include_in_schema=False)
def merchant_page(token: str, page: PageDep, db: DbDep) -> Response:
    merchant = _merchant(page, db, token)
    if merchant is None:
        return _invalid(page)
    flash = page.t("merchant.thanks") if page.request.query_params.get("done") else None
    return _render(page, db, merchant, token, flash=flash)


@router.post("/m/{token}/cases/{case_id}/fixed", include_in_schema=False)
async def merchant_fixed(token: str, case_id: PathId, page: PageDep, db: DbDep,
                         csrf_token: Annotated[str, Form()] = "",
                         note: Annotated[CleanText, Form(max_length=2000)] = "",
                         photo: Annotated[UploadFile | None, File()] = None) -> Response:
    if (refused := page.csrf_refused(csrf_token)) is not None:
        return refused
    settings = page.request.app.state.settings
    data = await photo.read(settings.evidence_max_bytes + 1) if photo is not None and photo.filename else b""

    def run() -> Response:
        merchant = _merchant(page, db, token)
        if merchant is None:
            return _invalid(page)
        case = _own_case(db, merchant, case_id)
        if case is None:
            return page.render("merchant_invalid.html", status_code=404)
        if not data:
            return _render(page, db, merchant, token, page.t("merchant.photo_required"), "error", 422)
        try:
            checked = check_photo(settings, photo.filename if photo else None, data)
        except EvidenceError as exc:
            return _render(page, db, merchant, token, page.t("merchant.bad_photo", detail=exc.message), "error",
                           exc.status)
        try:
            case_service.report_fixed(db, settings, page.now(), merchant, case, note.strip() or None, checked)
        except TransitionError:
            db.rollback()
            return _render(page, db, merchant, token, page.t("merchant.cannot"), "error", 409)
        db.commit()
        return page.redirect(f"/m/{token}?done={case.id}")

    return await run_in_threadpool(run)


@router.get("/m/{token}/evidence/{evidence_id}", include_in_schema=False)
def merchant_evidence(token: str, evidence_id: PathId, page: PageDep, db: DbDep) -> Response:
    merchant = _merchant(page, db, token)
    row = db.get(Evidence, evidence_id) if merchant is not None else None
    case = _own_case(db, merchant, row.case_id) if merchant is not None and row is not None else None
    if row is None or case is None:
        raise HTTPException(404, "not found")
    response = merchant_response(db, page.request.app.state.settings, row)  # blurred: PRIVACY.md
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
