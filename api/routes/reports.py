"""``GET /api/v1/reports``: the period report (`api.services.reports`) as JSON, PDF or XLSX for API clients;
the console serves the same report as a printable page at ``/reports``.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from api.deps import ClockDep, SessionDep, SettingsDep, StaffUser
from api.services import reports

router = APIRouter(prefix="/api/v1", tags=["reports"])


@router.get("/reports", summary="Report for a period and the city, a district or a road (JSON, PDF or XLSX)",
            response_class=Response,
            responses={422: {"description": "Unknown district/road or bad period"},
                       409: {"description": "zh-CN PDF asked for but no CJK font is installed"}})
def get_report(
    session: SessionDep, settings: SettingsDep, clock: ClockDep, user: StaffUser,
    start: Annotated[date | None, Query(alias="from", description="First day, UTC (default: last month's)")] = None,
    end: Annotated[date | None, Query(alias="to", description="Last day, inclusive (default: last month's)")] = None,
    scope: Annotated[Literal["city", "district", "road"], Query(description="city, district or road")] = "city",
    name: Annotated[str | None, Query(max_length=200, description="District or road name")] = None,
    format: Annotated[Literal["json", "pdf", "xlsx"], Query(description="json, pdf or xlsx")] = "json",
    lang: Annotated[Literal["zh-CN", "en"], Query(description="Language of the PDF and XLSX")] = "zh-CN",
) -> Response:
    now = clock.now()
    if start is None and end is None:
        first, last = reports.month_range(now)
    else:
        first = datetime.combine(start or (end - timedelta(days=30)), datetime.min.time(), UTC)  # type: ignore[operator]
        last = datetime.combine(end or now.date(), datetime.min.time(), UTC) + timedelta(days=1)
    try:
        report = reports.build(session, first, last, scope, name, now=now)
    except reports.ReportError as exc:
        raise HTTPException(422, str(exc)) from None
    stem = f"frontage-report-{scope}-{first:%Y%m%d}-{last - timedelta(seconds=1):%Y%m%d}"
    if format == "xlsx":
        return Response(reports.to_xlsx(report, lang),
                        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f'attachment; filename="{stem}.xlsx"'})
    if format == "pdf":
        try:
            data = reports.to_pdf(report, lang, settings.report_cjk_font)
        except reports.FontMissing as exc:
            raise HTTPException(409, str(exc)) from None
        return Response(data, media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{stem}.pdf"'})
    return Response(json.dumps(dataclasses.asdict(report), default=str, ensure_ascii=False),
                    media_type="application/json")
