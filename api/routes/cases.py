"""The operator API: the case queue (filters, sorting, keyset pagination), one case, actions, claim/assign,
bulk confirm/reject, evidence downloads. Thin adapters over `api.services.queue`, `.cases` and `.evidence`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from api.deps import ClockDep, OperatorUser, PathId, SessionDep, SettingsDep, StaffUser
from api.schemas.cases import (
    ActionRequest,
    ActionResult,
    AssignRequest,
    BulkRequest,
    BulkResult,
    CaseDetail,
    CaseFilters,
    CasePage,
    CasePublic,
)
from api.schemas.types import CleanStr
from api.services import cases as case_service
from api.services import evidence as evidence_service
from api.services import queue
from api.services.privacy import audit_original
from api.workflow import Action

router = APIRouter(prefix="/api/v1", tags=["cases"])


@router.get("/cases", response_model=CasePage, summary="The case queue")
def list_cases(
    session: SessionDep, user: StaffUser, clock: ClockDep,
    filters: Annotated[CaseFilters, Query()],
    sort: Annotated[queue.KeysetSort, Query(description="Field, '-' for descending")] = "-created_at",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[CleanStr | None, Query(max_length=1000, description="next_cursor from the previous page")] = None,
) -> CasePage:
    now = clock.now()
    rows, next_cursor = queue.keyset_page(session, filters, now, user.id, sort, limit, cursor)
    return CasePage(items=case_service.cases_public(session, rows, now), next_cursor=next_cursor)


@router.get("/cases/{case_id}", response_model=CaseDetail, summary="One case with evidence and audit trail")
def get_case(case_id: PathId, session: SessionDep, user: StaffUser, clock: ClockDep) -> CaseDetail:
    return case_service.case_detail(session, case_service.load_case(session, case_id), clock.now())


@router.post("/cases/{case_id}/actions/{action}", response_model=ActionResult,
             responses={409: {"description": "Not allowed in this state: {detail, allowed}"}})
def case_action(case_id: PathId, action: Action, request: Request, session: SessionDep, settings: SettingsDep,
                clock: ClockDep, user: StaffUser, body: ActionRequest | None = None) -> ActionResult:
    """Take one workflow action (confirm, reject, notify, report_fixed, verify, close, escalate, feedback, reopen)."""
    case = case_service.load_case(session, case_id)
    return case_service.perform_action(session, settings, request.app.state.metrics, clock.now(), user, case,
                                       action, body or ActionRequest())


@router.post("/cases/{case_id}/claim", response_model=CasePublic, summary="Take a case (409 if someone has it)")
def claim_case(case_id: PathId, session: SessionDep, user: OperatorUser, clock: ClockDep,
               settings: SettingsDep) -> CasePublic:
    return case_service.claim(session, settings, clock.now(), user, case_service.load_case(session, case_id))


@router.post("/cases/{case_id}/assign", response_model=CasePublic, summary="Assign (or unassign) a case")
def assign_case(case_id: PathId, body: AssignRequest, session: SessionDep, user: OperatorUser, clock: ClockDep,
                settings: SettingsDep) -> CasePublic:
    return case_service.assign(session, settings, clock.now(), user, case_id, body.username)


@router.post("/cases/bulk/{action}", response_model=BulkResult, summary="Confirm or reject many cases")
def bulk_action(action: Literal["confirm", "reject"], body: BulkRequest, request: Request, session: SessionDep,
                settings: SettingsDep, clock: ClockDep, user: OperatorUser) -> BulkResult:
    outcome = case_service.bulk(session, settings, request.app.state.metrics, clock.now(), user, Action(action),
                                body.case_ids, body.note)
    return BulkResult(done=outcome.done, failed=outcome.failed)


@router.get("/evidence/{evidence_id}", summary="Evidence bytes (staff)")
def get_evidence(evidence_id: PathId, session: SessionDep, settings: SettingsDep, user: StaffUser,
                 clock: ClockDep) -> Response:
    row = evidence_service.staff_evidence(session, evidence_id)
    response = evidence_service.evidence_response(settings, row)
    audit_original(session, row, f"user:{user.username}", clock.now(), via="api")  # PRIVACY.md
    return response
