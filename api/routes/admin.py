"""Admin tools: move the service clock (only when FRONTAGE_ALLOW_CLOCK_CONTROL) and run the scheduler now."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import AdminUser, ClockDep, SessionDep, SettingsDep
from api.scheduler import run_pass

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


class ClockMove(BaseModel):
    advance_s: Annotated[float, Field(ge=0, le=365 * 86400, description="Seconds to move the clock forward")]


@router.get("/clock")
def get_clock(clock: ClockDep, user: AdminUser) -> dict[str, object]:
    return {"now": clock.now().isoformat(), "offset_s": clock.offset_s}


@router.post("/clock", summary="Move the service clock forward (demo/test only)")
def move_clock(body: ClockMove, clock: ClockDep, settings: SettingsDep, user: AdminUser) -> dict[str, object]:
    if not settings.allow_clock_control:
        raise HTTPException(404, "clock control is disabled (FRONTAGE_ALLOW_CLOCK_CONTROL)")
    now = clock.advance(body.advance_s)
    return {"now": now.isoformat(), "offset_s": clock.offset_s}


@router.post("/scheduler/run", summary="Run one scheduler pass now")
async def scheduler_run(request: Request, clock: ClockDep, settings: SettingsDep, user: AdminUser,
                        session: SessionDep) -> dict[str, int]:
    session.commit()  # end this request's transaction first: on SQLite it holds the single write lock
    result = await run_in_threadpool(run_pass, request.app.state.session_factory, settings, clock.now)
    return {"escalated": result.escalated, "expired": result.expired, "sent": result.sent, "purged": result.purged}
