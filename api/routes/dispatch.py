"""``POST /api/v1/dispatch/cases/{case_id}``: a supervisor sends an escalated case to the city dispatch
platform by hand (escalations reaching ``dispatch_at_level`` go on their own; see `api.dispatch`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from api import dispatch
from api.db.models import Case, CaseState, Role, User
from api.deps import ClockDep, PathId, SessionDep, SettingsDep, require_roles

router = APIRouter(prefix="/api/v1/dispatch", tags=["dispatch"])
SupervisorUser = Annotated[User, Depends(require_roles(Role.SUPERVISOR, Role.ADMIN))]


class DispatchRequest(BaseModel):
    note: Annotated[str | None, Field(max_length=2000, title="Note",
                                      description="Why it goes to the city now (sent as the reason)")] = None


class DispatchQueued(BaseModel):
    case_id: int = Field(title="Case", description="The case sent")
    delivery_id: int = Field(title="Delivery id", description="Outbox id; the platform sees it as delivery_id")
    status: str = Field(title="Status", description="pending until the scheduler has delivered it")


@router.post("/cases/{case_id}", response_model=DispatchQueued, status_code=202,
             summary="Send an escalated case to the city dispatch platform",
             responses={409: {"description": "Not escalated, or dispatch not configured"}})
def dispatch_case(case_id: PathId, session: SessionDep, settings: SettingsDep, clock: ClockDep,
                  user: SupervisorUser, body: DispatchRequest | None = None) -> DispatchQueued:
    case = session.get(Case, case_id)
    if case is None:
        raise HTTPException(404, f"case {case_id} not found")
    if case.state != CaseState.ESCALATED:
        raise HTTPException(409, f"only escalated cases go to the city; case {case_id} is {case.state}")
    try:
        note = dispatch.enqueue(session, settings, clock.now(), case, case.escalation_level,
                                (body.note if body else None) or f"sent by {user.username}", actor=f"user:{user.username}")
    except dispatch.DispatchUnavailable as exc:
        raise HTTPException(409, str(exc)) from None
    session.flush()
    return DispatchQueued(case_id=case.id, delivery_id=note.id, status=note.status)
