"""The statistics dashboard: numbers from `api.stats.compute` (the same as ``/api/v1/stats``), drawn as
inline SVG charts (no chart library, no script).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import select

from api.db.models import Merchant
from api.stats import compute
from api.web.context import DbDep, StaffPage

router = APIRouter()

WEEKS = 12


@dataclass
class Bar:
    label: str
    value: float
    width: float  # 0-1 of the longest bar


def bars(items: dict[str, dict[str, Any]], key: str, label: Any, limit: int = 10) -> list[Bar]:
    pairs = sorted(((label(k), float(v.get(key) or 0)) for k, v in items.items()), key=lambda p: -p[1])
    pairs = [p for p in pairs if p[1] > 0][:limit]
    top = max((v for _, v in pairs), default=0) or 1
    return [Bar(name, value, value / top) for name, value in pairs]


def line_points(series: list[tuple[str, float | None]], width: int = 560, height: int = 180,
                pad: int = 30) -> list[dict[str, Any]]:
    """(label, rate 0-1 or None) -> SVG coordinates; weeks without a rate are left out of the line."""
    n = max(len(series) - 1, 1)
    out = []
    for i, (label, rate) in enumerate(series):
        x = pad + (width - 2 * pad) * i / n
        y = None if rate is None else height - pad - (height - 2 * pad) * rate
        out.append({"label": label, "rate": rate, "x": round(x, 1), "y": None if y is None else round(y, 1)})
    return out


@router.get("/dashboard", include_in_schema=False)
def dashboard(page: StaffPage, db: DbDep) -> Response:
    now = page.now()
    start = now - timedelta(weeks=WEEKS)
    report = compute(db, start, now + timedelta(seconds=1), period="week")
    by = report["by"]
    weeks = []
    cursor = start
    while cursor <= now:
        year, week, _ = cursor.isocalendar()
        key = f"{year}-W{week:02d}"
        if not weeks or weeks[-1][0] != key:
            rate = by["period"].get(key, {}).get("self_rectification_rate")
            weeks.append((key, rate))
        cursor += timedelta(days=7)
    year, week, _ = now.isocalendar()
    if weeks[-1][0] != f"{year}-W{week:02d}":
        weeks.append((f"{year}-W{week:02d}", by["period"].get(f"{year}-W{week:02d}", {}).get("self_rectification_rate")))
    points = line_points(weeks)
    polyline = " ".join(f"{p['x']},{p['y']}" for p in points if p["y"] is not None)
    offenders = list(db.scalars(select(Merchant).where(Merchant.offence_count >= 2)
                                .order_by(Merchant.offence_count.desc(), Merchant.code).limit(10)))
    unknown = page.t("dash.unknown_road")
    return page.render(
        "dashboard.html", active="dashboard", totals=report["totals"], points=points, polyline=polyline,
        road_bars=bars(by["road"], "flagged", lambda k: unknown if k == "(none)" else k),
        category_bars=bars(by["category"], "flagged", page.t.category),
        offenders=offenders, offender_bars=bars({m.name: {"n": m.offence_count} for m in offenders}, "n", str),
        weeks=WEEKS)
