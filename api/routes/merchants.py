"""Merchants: the staff directory (``/api/v1/merchants``) and the merchant's own API
(``/api/v1/merchant/...``, token as ``Authorization: Bearer`` or in the path ``/api/v1/merchant/t/{token}/...``).

A merchant only ever sees its own cases: another merchant's case id answers 404, exactly like a missing one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Request, Response, UploadFile
from fastapi import Path as PathParam
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.models import Case, CaseEvent, CaseState, Evidence, Merchant, MerchantToken
from api.deps import (
    AdminUser,
    ClockDep,
    CurrentMerchant,
    OperatorUser,
    PathId,
    SessionDep,
    SettingsDep,
    StaffUser,
    get_or_404,
)
from api.evidence import EvidenceError
from api.schemas.cases import CaseEventPublic, MerchantCasePublic
from api.schemas.entities import MerchantCreate, MerchantLink, MerchantPublic
from api.schemas.types import CleanStr, CleanText
from api.services import cases as case_service
from api.services.cases import MERCHANT_VISIBLE_STATES
from api.services.evidence import check_photo, evidence_public
from api.services.evidence import merchant_evidence as own_evidence
from api.services.privacy import merchant_may_see, merchant_response
from api.services.registration import register_merchant
from api.workflow import issue_merchant_token

staff_router = APIRouter(prefix="/api/v1/merchants", tags=["merchants"])
own_router = APIRouter(tags=["merchant"])

#: A merchant code in a URL path (control characters refused before any lookup).
MerchantCode = Annotated[CleanStr, PathParam(max_length=100, description="Merchant code")]


# ----- staff -------------------------------------------------------------------------------------
@staff_router.get("", response_model=list[MerchantPublic])
def list_merchants(session: SessionDep, user: StaffUser) -> list[Merchant]:
    return list(session.scalars(select(Merchant).order_by(Merchant.code)))


@staff_router.post("", response_model=MerchantPublic, status_code=201)
def create_merchant(body: MerchantCreate, session: SessionDep, user: AdminUser, clock: ClockDep) -> Merchant:
    return register_merchant(session, body, clock.now())


def _merchant_by_code(session: Session, code: str) -> Merchant:
    return get_or_404(session, Merchant.code, code, "merchant")


@staff_router.get("/{code}", response_model=MerchantPublic)
def get_merchant(code: MerchantCode, session: SessionDep, user: StaffUser) -> Merchant:
    return _merchant_by_code(session, code)


@staff_router.post("/{code}/links", response_model=MerchantLink, status_code=201,
                   summary="Issue a new link (token) for a merchant")
def issue_link(code: MerchantCode, session: SessionDep, settings: SettingsDep, clock: ClockDep,
               user: OperatorUser) -> MerchantLink:
    merchant = _merchant_by_code(session, code)
    now = clock.now()
    token = issue_merchant_token(session, settings, merchant, now)
    return MerchantLink(merchant=merchant.code, token=token, link=f"{settings.public_url.rstrip('/')}/m/{token}",
                        expires_at=now + timedelta(seconds=settings.merchant_token_ttl_s))


@staff_router.post("/{code}/links/revoke", summary="Revoke every link of a merchant")
def revoke_links(code: MerchantCode, session: SessionDep, clock: ClockDep, user: OperatorUser) -> dict[str, int]:
    merchant = _merchant_by_code(session, code)
    rows = session.scalars(select(MerchantToken).where(MerchantToken.merchant_id == merchant.id,
                                                       MerchantToken.revoked_at.is_(None))).all()
    for row in rows:
        row.revoked_at = clock.now()
    return {"revoked": len(rows)}


# ----- the merchant's own API --------------------------------------------------------------------
def _merchant_case(session: Session, case: Case, with_evidence: bool, prefix: str) -> MerchantCasePublic:
    evidence = []
    if with_evidence:
        rows = session.scalars(select(Evidence).where(Evidence.case_id == case.id).order_by(Evidence.id)).all()
        evidence = [evidence_public(e, prefix) for e in rows if merchant_may_see(e)]  # PRIVACY.md
    return MerchantCasePublic(
        id=case.id, state=case.state, category=case.category, zone=case.zone.code, camera=case.camera.code,
        first_seen_at=case.first_seen_at, due_at=case.due_at, notified_at=case.notified_at,
        fixed_reported_at=case.fixed_reported_at, closed_at=case.closed_at, escalation_level=case.escalation_level,
        can_report_fixed=case.state == CaseState.NOTIFIED, evidence=evidence)




@own_router.get("/me", summary="Who this link belongs to")
def merchant_me(merchant: CurrentMerchant) -> dict[str, str | None]:
    return {"code": merchant.code, "name": merchant.name, "address": merchant.address}


@own_router.get("/cases", response_model=list[MerchantCasePublic], summary="This merchant's cases")
def merchant_cases(merchant: CurrentMerchant, session: SessionDep, request: Request) -> list[MerchantCasePublic]:
    rows = session.scalars(select(Case).where(Case.merchant_id == merchant.id, Case.state.in_(MERCHANT_VISIBLE_STATES))
                           .order_by(Case.created_at.desc(), Case.id.desc()).limit(200)).unique()
    return [_merchant_case(session, c, False, "") for c in rows]


@own_router.get("/cases/{case_id}", response_model=MerchantCasePublic)
def merchant_case(case_id: PathId, merchant: CurrentMerchant, session: SessionDep,
                  request: Request) -> MerchantCasePublic:
    case = case_service.merchant_case(session, merchant, case_id)
    prefix = request.url.path.split("/cases/")[0] + "/evidence"
    return _merchant_case(session, case, True, prefix)


@own_router.post("/cases/{case_id}/report-fixed", response_model=MerchantCasePublic,
                 summary="Tell the city the problem is fixed (optional photo and note)")
async def merchant_report_fixed(case_id: PathId, request: Request, merchant: CurrentMerchant, session: SessionDep, settings: SettingsDep,
    clock: ClockDep, note: Annotated[CleanText | None, Form(max_length=2000)] = None,
    photo: Annotated[UploadFile | None, File(description="JPEG or PNG of the cleared frontage")] = None,
) -> MerchantCasePublic:
    checked = None
    if photo is not None and photo.filename:
        data = await photo.read(settings.evidence_max_bytes + 1)
        try:
            checked = check_photo(settings, photo.filename, data)
        except EvidenceError as exc:
            raise HTTPException(exc.status, exc.message) from None

    def run() -> MerchantCasePublic:
        case = case_service.merchant_case(session, merchant, case_id)
        case_service.report_fixed(session, settings, clock.now(), merchant, case, note, checked)
        return _merchant_case(session, case, False, "")

    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(run)


@own_router.get("/history", response_model=list[CaseEventPublic], summary="What happened on this merchant's cases")
def merchant_history(merchant: CurrentMerchant, session: SessionDep) -> list[CaseEventPublic]:
    rows = session.scalars(
        select(CaseEvent).join(Case, Case.id == CaseEvent.case_id)
        .where(Case.merchant_id == merchant.id, Case.state.in_(MERCHANT_VISIBLE_STATES),
               CaseEvent.action.not_in(["created", "episode_attached", "claimed", "assigned"]))
        .order_by(CaseEvent.id.desc()).limit(500)).all()
    out = []
    for e in rows:
        item = CaseEventPublic.model_validate(e)
        if not item.actor.startswith("merchant:"):
            item.actor = "city"  # staff names and device names stay internal
        out.append(item)
    return out


@own_router.get("/evidence/{evidence_id}", summary="Evidence of one of this merchant's cases")
def merchant_evidence(evidence_id: PathId, merchant: CurrentMerchant, session: SessionDep,
                      settings: SettingsDep) -> Response:
    return merchant_response(session, settings, own_evidence(session, merchant, evidence_id, MERCHANT_VISIBLE_STATES))
