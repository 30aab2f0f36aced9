"""The report page ``/reports`` (printable, zh-CN and English) and its downloads ``/reports/report.pdf`` and
``/reports/report.xlsx``: one `api.services.reports.Report` drawn three ways. Query: ``from``/``to``
(dates, UTC; ``to`` inclusive; default: the previous calendar month), ``scope`` (city, district, road) and
``name`` (the district or road).
"""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy import select

from api.db.models import Road
from api.services import reports
from api.web.context import DbDep, Page, StaffPage

router = APIRouter()


def _period(page: Page, start: date | None, end: date | None) -> tuple[datetime, datetime]:
    if start is None and end is None:
        return reports.month_range(page.now())
    first = datetime.combine(start or (end - timedelta(days=30)), datetime.min.time(), UTC)  # type: ignore[operator]
    last = datetime.combine(end or page.now().date(), datetime.min.time(), UTC) + timedelta(days=1)
    return first, last


def _report(page: Page, db: DbDep, start: date | None, end: date | None, scope: str,
            name: str | None) -> reports.Report | Response:
    first, last = _period(page, start, end)
    try:
        return reports.build(db, first, last, scope, name or None, now=page.now())  # type: ignore[arg-type]
    except reports.ReportError as exc:
        return page.render("error.html", status_code=422, title="422",
                           message=page.t("error.bad_input", detail=str(exc)))


From = Annotated[date | None, Query(alias="from", description="First day (YYYY-MM-DD)")]
To = Annotated[date | None, Query(alias="to", description="Last day, inclusive (YYYY-MM-DD)")]
ScopeQ = Annotated[Literal["city", "district", "road"], Query(description="city, district or road")]
NameQ = Annotated[str | None, Query(max_length=200, description="District or road name")]


@router.get("/reports", include_in_schema=False)
def report_page(page: StaffPage, db: DbDep, start: From = None, end: To = None, scope: ScopeQ = "city",
                name: NameQ = None) -> Response:
    report = _report(page, db, start, end, scope, name)
    if isinstance(report, Response):
        return report
    lang = page.lang if page.lang in reports.LABELS else "zh-CN"
    try:
        images = reports.charts(report, lang)
    except reports.FontMissing:
        images = reports.charts(report, "en")  # the page itself renders Chinese with the browser's fonts
    query = {"from": f"{report.start:%Y-%m-%d}", "to": f"{report.end - timedelta(seconds=1):%Y-%m-%d}",
             "scope": scope, **({"name": name} if name else {}), "lang": lang}
    roads = list(db.execute(select(Road.name, Road.district).order_by(Road.name)))
    return page.render(
        "report.html", active="reports", report=report, w=reports.LABELS[lang], kpis=reports.kpi_rows(report, lang),
        fmt=lambda v, kind="n": reports.fmt(v, kind, lang), category=lambda v: reports.category_label(v, lang),
        charts={k: "data:image/png;base64," + base64.b64encode(v).decode() for k, v in images.items()},
        pdf_url=page.url_with("/reports/report.pdf", **query), xlsx_url=page.url_with("/reports/report.xlsx", **query),
        roads=[r for r, _ in roads], districts=sorted({d for _, d in roads if d}), scope=scope, name=name or "",
        last_day=query["to"])


@router.get("/reports/report.{kind}", include_in_schema=False)
def report_download(kind: Literal["pdf", "xlsx"], page: StaffPage, db: DbDep, start: From = None, end: To = None,
                    scope: ScopeQ = "city", name: NameQ = None) -> Response:
    report = _report(page, db, start, end, scope, name)
    if isinstance(report, Response):
        return report
    lang = page.lang if page.lang in reports.LABELS else "zh-CN"
    stem = f"frontage-report-{scope}-{report.start:%Y%m%d}-{report.end - timedelta(seconds=1):%Y%m%d}"
    if kind == "xlsx":
        return page.finish(Response(reports.to_xlsx(report, lang), headers={
            "Content-Disposition": f'attachment; filename="{stem}.xlsx"'},
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
    try:
        data = reports.to_pdf(report, lang, page.request.app.state.settings.report_cjk_font)
    except reports.FontMissing as exc:
        return page.render("error.html", status_code=409, title="PDF", message=str(exc))
    return page.finish(Response(data, media_type="application/pdf",
                                headers={"Content-Disposition": f'attachment; filename="{stem}.pdf"'}))
