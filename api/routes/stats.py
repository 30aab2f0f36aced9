"""``GET /api/v1/stats`` (JSON or ``?format=csv``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response

from api.deps import ClockDep, SessionDep, StaffUser
from api.schemas.types import BoundedDatetime
from api.stats import Period, compute, default_range, to_csv

router = APIRouter(prefix="/api/v1", tags=["stats"])


@router.get("/stats", summary="Flagged, rejected, self-rectified, escalated, closed; rate; breakdowns")
def get_stats(
    session: SessionDep, user: StaffUser, clock: ClockDep,
    start: Annotated[BoundedDatetime | None, Query(alias="from", description="Period start (default: 30 days ago)")] = None,
    end: Annotated[BoundedDatetime | None, Query(alias="to", description="Period end, exclusive (default: now)")] = None,
    period: Annotated[Period, Query(description="Bucket of the period breakdown")] = "day",
    format: Annotated[Literal["json", "csv"], Query(description="json or csv")] = "json",
) -> Response:
    d_start, d_end = default_range(clock.now())
    start = start or d_start
    end = end or d_end
    for name, value in (("from", start), ("to", end)):
        if value.tzinfo is None:
            raise HTTPException(422, f"'{name}' needs a time zone, e.g. 2026-05-01T00:00:00Z")
    if end <= start:
        raise HTTPException(422, "'to' must be after 'from'")
    report = compute(session, start, end, period)
    if format == "csv":
        return Response(to_csv(report), media_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="frontage-stats.csv"'})
    import json

    return Response(json.dumps(report), media_type="application/json")
