"""Reports people read: one period (a month, or any range) for the city, a district or a road.

The numbers are `api.stats.compute`'s (formulas in docs/STATS.md), plus the dispatches to the city platform,
the operators' verdict on the model, the re-learning rounds and the repeat offenders. The same `Report` is
drawn three ways: the printable HTML page of the console (`api.web.reports`), a PDF (fpdf2) and an XLSX
workbook (openpyxl); charts are matplotlib PNGs. Text in zh-CN and English (`LABELS`).

Fonts: nothing is downloaded. Chinese text needs a CJK font on disk: ``report_cjk_font`` or one of
`CJK_FONT_CANDIDATES` (Debian's fonts-noto-cjk, installed by scripts/install-system-deps.sh). Without one, a
zh-CN PDF or chart is refused with `FontMissing`, which says what to install.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.db.models import Case, CaseEvent, Merchant, ModelVersion, Road
from api.stats import compute

Scope = Literal["city", "district", "road"]
Lang = Literal["zh-CN", "en"]

#: Where Debian's CJK font packages put their files (TTC index of the Simplified Chinese face).
CJK_FONT_CANDIDATES: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),     # fonts-noto-cjk
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),             # fonts-wqy-microhei
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),               # fonts-wqy-zenhei
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),  # fonts-droid-fallback
)
LATIN_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"  # fonts-dejavu-core (Debian base)

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Street-front sanitation report", "scope.city": "City", "scope.district": "District",
        "scope.road": "Road", "period": "Period", "generated": "Generated",
        "kpi": "Key figures", "flagged": "Flagged", "confirmed": "Confirmed", "rejected": "Rejected (false alarms)",
        "self_rectified": "Self-rectified in time", "escalated": "Escalated", "dispatched": "Dispatched to the city",
        "closed": "Closed", "rate": "Self-rectification rate", "median_fix": "Median time to fix",
        "precision": "Model precision as operators judged it", "rejected_share": "Rejected / flagged",
        "relearned": "Re-learned (false alarms fed back)", "rounds": "Re-learning rounds (model versions)",
        "trend": "Flagged and self-rectification rate by week", "week": "Week", "by_category": "By category",
        "by_road": "By road", "by_merchant": "By merchant", "offenders": "Top repeat offenders",
        "category": "Category", "road": "Road", "merchant": "Merchant", "name": "Name", "cases": "Confirmed cases",
        "model": "Model", "version": "Version", "released": "Released", "none": "—", "no_cases": "No cases in this period.",
        "hours": "h", "download_pdf": "Download PDF", "download_xlsx": "Download XLSX", "print": "Print",
        "from": "From", "to": "To", "show": "Show", "all": "(whole city)", "kpi.sheet": "KPIs",
    },
    "zh-CN": {
        "title": "沿街市容秩序报告", "scope.city": "全市", "scope.district": "区", "scope.road": "道路",
        "period": "统计期间", "generated": "生成时间",
        "kpi": "主要指标", "flagged": "发现", "confirmed": "确认", "rejected": "驳回（误报）",
        "self_rectified": "按时自行整改", "escalated": "升级处置", "dispatched": "推送城管派单",
        "closed": "结案", "rate": "自行整改率", "median_fix": "整改用时中位数",
        "precision": "模型准确率（按人工审核）", "rejected_share": "驳回 / 发现",
        "relearned": "回流再学习（误报样本）", "rounds": "再学习轮次（模型版本）",
        "trend": "每周发现数与自行整改率", "week": "周", "by_category": "按类别", "by_road": "按道路",
        "by_merchant": "按商户", "offenders": "屡犯商户", "category": "类别", "road": "道路", "merchant": "商户",
        "name": "名称", "cases": "确认案件", "model": "模型", "version": "版本", "released": "发布时间",
        "none": "—", "no_cases": "本期间没有案件。", "hours": "小时", "download_pdf": "下载 PDF",
        "download_xlsx": "下载 XLSX", "print": "打印", "from": "起", "to": "止", "show": "查看",
        "all": "（全市）", "kpi.sheet": "指标",
    },
}

KPI_KEYS = ("flagged", "confirmed", "rejected", "self_rectified", "escalated", "dispatched", "closed")


class FontMissing(RuntimeError):
    """No CJK font on disk for Chinese text in a PDF or chart."""


class ReportError(ValueError):
    """A report request that cannot be answered (unknown district or road, bad period): a 4xx."""


@dataclass
class Report:
    start: datetime
    end: datetime
    scope: Scope
    name: str | None
    generated_at: datetime
    totals: dict[str, Any]
    weeks: list[dict[str, Any]]
    by_category: list[dict[str, Any]]
    by_road: list[dict[str, Any]]
    by_merchant: list[dict[str, Any]]
    offenders: list[dict[str, Any]]
    rounds: list[dict[str, Any]] = field(default_factory=list)

    def label(self, lang: str) -> str:
        words = LABELS[lang]
        return words["scope.city"] if self.scope == "city" else f"{words[f'scope.{self.scope}']}: {self.name}"


def month_range(now: datetime) -> tuple[datetime, datetime]:
    """The previous calendar month (the monthly report), UTC."""
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    prev = (first - timedelta(days=1)).replace(day=1)
    return prev, first


def build(session: Session, start: datetime, end: datetime, scope: Scope = "city", name: str | None = None,
          now: datetime | None = None) -> Report:
    if end <= start:
        raise ReportError("the period must end after it starts")
    if end - start > timedelta(days=3 * 366):
        raise ReportError("a report covers at most three years")
    where = None
    if scope != "city":
        if not name:
            raise ReportError(f"a {scope} report needs the {scope}'s name")
        column = Road.district if scope == "district" else Road.name
        road_ids = list(session.scalars(select(Road.id).where(column == name)))
        if not road_ids:
            raise ReportError(f"unknown {scope} '{name}'")
        where = Case.road_id.in_(road_ids)
    stats = compute(session, start, end, "week", where)
    totals = dict(stats["totals"])
    dispatched_q = (select(func.count(func.distinct(CaseEvent.case_id))).join(Case, Case.id == CaseEvent.case_id)
                    .where(CaseEvent.action == "dispatched", CaseEvent.at >= start, CaseEvent.at < end))
    totals["dispatched"] = session.scalar(dispatched_q if where is None else dispatched_q.where(where)) or 0
    judged = totals["confirmed"] + totals["rejected"]
    totals["precision"] = round(totals["confirmed"] / judged, 4) if judged else None
    totals["rejected_share"] = round(totals["rejected"] / totals["flagged"], 4) if totals["flagged"] else None
    by = stats["by"]
    weeks = [{"week": k, "flagged": v["flagged"], "rate": v["self_rectification_rate"]}
             for k, v in sorted(by["period"].items())]

    def rows(group: str) -> list[dict[str, Any]]:
        return sorted(({"key": k, **v} for k, v in by[group].items()), key=lambda r: (-r["flagged"], r["key"]))

    names = dict(session.execute(select(Merchant.code, Merchant.name).where(
        Merchant.code.in_([k for k in by["merchant"] if k != "(none)"]))).all()) if by["merchant"] else {}
    merchants = rows("merchant")
    for r in merchants:
        r["name"] = names.get(r["key"], "")
    offenders = sorted((r for r in merchants if r["key"] != "(none)" and r["confirmed"] >= 2),
                       key=lambda r: (-r["confirmed"], r["key"]))[:10]
    rounds = [{"model": m.name, "version": m.version, "released": m.created_at}
              for m in session.scalars(select(ModelVersion).where(ModelVersion.created_at >= start,
                                                                  ModelVersion.created_at < end)
                                       .order_by(ModelVersion.created_at))]
    totals["relearned"] = totals["rejected"]
    totals["rounds"] = len(rounds)
    return Report(start=start, end=end, scope=scope, name=name, generated_at=now or end, totals=totals, weeks=weeks,
                  by_category=rows("category"), by_road=rows("road"), by_merchant=merchants, offenders=offenders,
                  rounds=rounds)


# ----- formatting -------------------------------------------------------------------------------------
def fmt(value: Any, kind: str = "n", lang: str = "en") -> str:
    if value is None:
        return LABELS[lang]["none"]
    if kind == "pct":
        return f"{value * 100:.1f} %"
    if kind == "h":
        return f"{value / 3600:.1f} {LABELS[lang]['hours']}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def kpi_rows(report: Report, lang: str) -> list[tuple[str, str]]:
    w, t = LABELS[lang], report.totals
    out = [(w[k], fmt(t[k])) for k in KPI_KEYS]
    out += [(w["rate"], fmt(t["self_rectification_rate"], "pct")),
            (w["median_fix"], fmt(t["median_time_to_fix_s"], "h", lang)),
            (w["precision"], fmt(t["precision"], "pct")), (w["rejected_share"], fmt(t["rejected_share"], "pct")),
            (w["relearned"], fmt(t["relearned"])), (w["rounds"], fmt(t["rounds"]))]
    return out


def category_label(value: str, lang: str) -> str:
    from detector.categories import Category

    try:
        cat = Category(value)
    except ValueError:
        return value
    return cat.label_zh if lang == "zh-CN" else cat.label_en


# ----- fonts and charts ------------------------------------------------------------------------------
def find_cjk_font(configured: Path | None = None) -> tuple[str, int]:
    if configured is not None:
        if not configured.is_file():
            raise FontMissing(f"report_cjk_font {configured} does not exist")
        return str(configured), 2 if configured.name.startswith("NotoSansCJK") else 0
    for path, index in CJK_FONT_CANDIDATES:
        if Path(path).is_file():
            return path, index
    raise FontMissing("no CJK font for Chinese reports: install the Debian package fonts-noto-cjk "
                      "(scripts/install-system-deps.sh) or set FRONTAGE_REPORT_CJK_FONT to a .ttf/.ttc/.otf file; "
                      "English reports work without it")


def charts(report: Report, lang: str, font: tuple[str, int] | None = None) -> dict[str, bytes]:
    """``trend`` (flagged bars and self-rectification line by week) and ``category`` PNGs."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    w = LABELS[lang]
    prop = None
    if font is None and lang == "zh-CN":
        font = find_cjk_font()
    if font is not None:
        prop = FontProperties(fname=font[0])  # a TTC's first face: it holds the CJK ideographs too
    out: dict[str, bytes] = {}

    fig = Figure(figsize=(7.5, 3.2), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    labels = [r["week"][5:] for r in report.weeks] or ["—"]
    ax.bar(labels, [r["flagged"] for r in report.weeks] or [0], color="#7a9cc6", label=w["flagged"])
    ax.set_ylabel(w["flagged"], fontproperties=prop)
    ax2 = ax.twinx()
    rates = [(i, r["rate"] * 100) for i, r in enumerate(report.weeks) if r["rate"] is not None]
    if rates:
        ax2.plot([i for i, _ in rates], [v for _, v in rates], color="#c0392b", marker="o", label=w["rate"])
    ax2.set_ylim(0, 100)
    ax2.set_ylabel(w["rate"] + " %", fontproperties=prop)
    ax.set_title(w["trend"], fontproperties=prop)
    ax.tick_params(axis="x", labelsize=7, rotation=45)
    fig.tight_layout()
    out["trend"] = _png(fig)

    fig = Figure(figsize=(7.5, 2.8), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    cats = report.by_category[:8]
    ax.barh([category_label(r["key"], lang) for r in cats] or ["—"], [r["flagged"] for r in cats] or [0],
            color="#5b8c5a")
    ax.invert_yaxis()
    ax.set_title(w["by_category"], fontproperties=prop)
    if prop is not None:
        for tick in ax.get_yticklabels():
            tick.set_fontproperties(prop)
    fig.tight_layout()
    out["category"] = _png(fig)
    return out


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


# ----- PDF and XLSX ----------------------------------------------------------------------------------
def to_pdf(report: Report, lang: str, cjk_font: Path | None = None) -> bytes:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    try:  # the CJK font for both languages: English reports still carry Chinese shop and road names
        path, index = find_cjk_font(cjk_font)
    except FontMissing:
        if lang == "zh-CN" or not Path(LATIN_FONT).is_file():
            raise
        path, index = LATIN_FONT, 0
    w = LABELS[lang]
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_font("body", fname=path, collection_font_number=index)
    pdf.set_title(f"{w['title']} {report.start:%Y-%m-%d}")
    pdf.add_page()
    pdf.set_font("body", size=16)
    pdf.cell(text=w["title"], new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("body", size=10)
    pdf.cell(text=f"{report.label(lang)} · {w['period']}: {report.start:%Y-%m-%d} – "
                  f"{(report.end - timedelta(seconds=1)):%Y-%m-%d}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    bold = FontFace(emphasis=None, fill_color=(230, 236, 245))

    def table(header: list[str], body: list[list[str]], widths: tuple[int, ...] | None = None) -> None:
        with pdf.table(col_widths=widths, headings_style=bold, line_height=6, text_align="LEFT") as tbl:
            tbl.row(header)
            for r in body:
                tbl.row(r)
        pdf.ln(3)

    pdf.set_font("body", size=12)
    pdf.cell(text=w["kpi"], new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("body", size=9)
    table([w["kpi"], ""], [list(r) for r in kpi_rows(report, lang)], (3, 1))
    images = charts(report, lang, (path, index) if path != LATIN_FONT else None)
    for key in ("trend", "category"):
        pdf.image(io.BytesIO(images[key]), w=180)
        pdf.ln(2)
    for title, rows, first in ((w["by_road"], report.by_road, w["road"]),
                               (w["by_category"], report.by_category, w["category"])):
        pdf.set_font("body", size=12)
        pdf.cell(text=title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("body", size=9)
        table([first, w["flagged"], w["self_rectified"], w["escalated"], w["rate"]],
              [[category_label(r["key"], lang) if first == w["category"] else r["key"], fmt(r["flagged"]),
                fmt(r["self_rectified"]), fmt(r["escalated"]), fmt(r["self_rectification_rate"], "pct")]
               for r in rows[:30]] or [[w["no_cases"], "", "", "", ""]])
    pdf.set_font("body", size=12)
    pdf.cell(text=w["offenders"], new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("body", size=9)
    table([w["merchant"], w["name"], w["cases"], w["escalated"]],
          [[r["key"], r["name"], fmt(r["confirmed"]), fmt(r["escalated"])] for r in report.offenders]
          or [[w["none"], "", "", ""]])
    return bytes(pdf.output())


def to_xlsx(report: Report, lang: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, LineChart, Reference
    from openpyxl.styles import Font

    w = LABELS[lang]
    book = Workbook()
    kpi = book.active
    kpi.title = w["kpi.sheet"]
    kpi.append([w["title"]])
    kpi["A1"].font = Font(bold=True, size=14)
    kpi.append([report.label(lang), f"{report.start:%Y-%m-%d}", f"{(report.end - timedelta(seconds=1)):%Y-%m-%d}"])
    kpi.append([])
    t = report.totals
    for key in KPI_KEYS:
        kpi.append([w[key], t[key]])
    for key, value, number_format in (("rate", t["self_rectification_rate"], "0.0%"),
                                      ("median_fix", None if t["median_time_to_fix_s"] is None
                                       else round(t["median_time_to_fix_s"] / 3600, 2), "0.00"),
                                      ("precision", t["precision"], "0.0%"),
                                      ("rejected_share", t["rejected_share"], "0.0%"),
                                      ("relearned", t["relearned"], "0"), ("rounds", t["rounds"], "0")):
        kpi.append([w[key] + (f" ({w['hours']})" if key == "median_fix" else ""), value])
        kpi.cell(kpi.max_row, 2).number_format = number_format
    kpi.column_dimensions["A"].width = 36

    trend = book.create_sheet(w["week"])
    trend.append([w["week"], w["flagged"], w["rate"]])
    for r in report.weeks:
        trend.append([r["week"], r["flagged"], r["rate"]])
        trend.cell(trend.max_row, 3).number_format = "0.0%"
    if report.weeks:
        bars = BarChart()
        bars.title = w["trend"]
        bars.add_data(Reference(trend, min_col=2, min_row=1, max_row=trend.max_row), titles_from_data=True)
        bars.set_categories(Reference(trend, min_col=1, min_row=2, max_row=trend.max_row))
        line = LineChart()
        line.add_data(Reference(trend, min_col=3, min_row=1, max_row=trend.max_row), titles_from_data=True)
        line.y_axis.axId = 200
        line.y_axis.crosses = "max"
        bars += line
        trend.add_chart(bars, "E2")
    cols = ["flagged", "confirmed", "rejected", "self_rectified", "escalated_after_notice", "self_rectification_rate"]
    for title, rows, label in ((w["by_category"], report.by_category, w["category"]),
                               (w["by_road"], report.by_road, w["road"]),
                               (w["by_merchant"], report.by_merchant, w["merchant"])):
        sheet = book.create_sheet(title[:31])
        sheet.append([label, *([w["name"]] if rows is report.by_merchant else []), w["flagged"], w["confirmed"],
                      w["rejected"], w["self_rectified"], w["escalated"], w["rate"]])
        for r in rows:
            key = category_label(r["key"], lang) if rows is report.by_category else r["key"]
            sheet.append([key, *([r["name"]] if rows is report.by_merchant else []), *[r[c] for c in cols]])
    off = book.create_sheet(w["offenders"][:31])
    off.append([w["merchant"], w["name"], w["cases"], w["escalated"]])
    for r in report.offenders:
        off.append([r["key"], r["name"], r["confirmed"], r["escalated"]])
    rounds = book.create_sheet(w["rounds"][:31])
    rounds.append([w["model"], w["version"], w["released"]])
    for r in report.rounds:
        rounds.append([r["model"], r["version"], r["released"].replace(tzinfo=None)])
    for sheet in book.worksheets:
        for cell in sheet[1]:
            cell.font = Font(bold=True)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()
