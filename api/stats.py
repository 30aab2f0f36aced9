"""Statistics over a period; the formulas are written out in ``docs/STATS.md``.

Each count takes the cases whose *own* timestamp for that fact falls in ``[start, end)``:

- flagged          created_at
- confirmed        confirmed_at
- rejected         rejected_at      (false positives: the re-learning pool)
- escalated        escalated_at     (first time at L1 or beyond)
- closed           closed_at
- left_notified    left_notified_at (the cohort of the rate)
- self_rectified   left_notified in the period and verified after the merchant's own fix, never escalated
- escalated_after_notice  left_notified in the period and escalated
- self_rectification_rate = self_rectified / (self_rectified + escalated_after_notice)
- median_time_to_fix_s    median of verified_at - notified_at over the self_rectified cases
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from api.db.models import Camera, Case, Merchant, Road

Period = Literal["day", "week", "month"]
COUNTS = ("flagged", "confirmed", "rejected", "escalated", "closed", "left_notified", "self_rectified",
          "escalated_after_notice")


def bucket(ts: datetime, period: Period) -> str:
    if period == "day":
        return ts.strftime("%Y-%m-%d")
    if period == "week":
        year, week, _ = ts.isocalendar()
        return f"{year}-W{week:02d}"
    return ts.strftime("%Y-%m")


class _Acc:
    def __init__(self) -> None:
        self.counts: dict[str, int] = dict.fromkeys(COUNTS, 0)
        self.fix_times: list[float] = []

    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.counts)
        sr, esc = self.counts["self_rectified"], self.counts["escalated_after_notice"]
        out["self_rectification_rate"] = round(sr / (sr + esc), 4) if sr + esc else None
        out["median_time_to_fix_s"] = statistics.median(self.fix_times) if self.fix_times else None
        return out


def compute(session: Session, start: datetime, end: datetime, period: Period = "day",
            where: Any = None) -> dict[str, Any]:
    """Totals and breakdowns by road, category, merchant and period; ``where``: an extra SQL condition on
    the cases (a report's district or road: `api.services.reports`)."""
    def within(col: Any) -> Any:
        return (col >= start) & (col < end)

    rows = session.execute(
        select(Case.category, Road.name, Merchant.code, Case.created_at, Case.confirmed_at, Case.rejected_at,
               Case.escalated_at, Case.closed_at, Case.left_notified_at, Case.notified_at, Case.verified_at,
               Case.self_rectified, Case.max_escalation_level)
        .select_from(Case).join(Camera, Camera.id == Case.camera_id)
        .outerjoin(Road, Road.id == Case.road_id).outerjoin(Merchant, Merchant.id == Case.merchant_id)
        .where(or_(within(Case.created_at), within(Case.confirmed_at), within(Case.rejected_at),
                   within(Case.escalated_at), within(Case.closed_at), within(Case.left_notified_at)),
               *([] if where is None else [where]))
        .execution_options(yield_per=5000))

    total = _Acc()
    groups: dict[str, dict[str, _Acc]] = {k: defaultdict(_Acc) for k in ("road", "category", "merchant", "period")}

    def inside(ts: datetime | None) -> bool:
        return ts is not None and start <= ts < end

    for (category, road, merchant, created, confirmed, rejected, escalated, closed, left_notified, notified,
         verified, self_rectified, max_level) in rows:
        facts: list[tuple[str, datetime]] = []
        for name, ts in (("flagged", created), ("confirmed", confirmed), ("rejected", rejected),
                         ("escalated", escalated), ("closed", closed), ("left_notified", left_notified)):
            if inside(ts):
                facts.append((name, ts))
        fix_time = None
        if inside(left_notified):
            if self_rectified and max_level == 0:
                facts.append(("self_rectified", left_notified))
                if verified and notified:
                    fix_time = (verified - notified).total_seconds()
            elif max_level >= 1:
                facts.append(("escalated_after_notice", left_notified))
        fixed = {"road": road or "(none)", "category": category, "merchant": merchant or "(none)"}
        for name, ts in facts:
            total.counts[name] += 1
            for group, key in (*fixed.items(), ("period", bucket(ts, period))):
                groups[group][key].counts[name] += 1
        if fix_time is not None and left_notified is not None:
            total.fix_times.append(fix_time)
            for group, key in (*fixed.items(), ("period", bucket(left_notified, period))):
                groups[group][key].fix_times.append(fix_time)
    return {
        "start": start.isoformat(), "end": end.isoformat(), "period": period, "totals": total.result(),
        "by": {group: {k: acc.result() for k, acc in sorted(accs.items())} for group, accs in groups.items()},
    }


def to_csv(report: dict[str, Any]) -> str:
    """One row per (breakdown, key) plus a totals row."""
    fields = [*COUNTS, "self_rectification_rate", "median_time_to_fix_s"]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["breakdown", "key", *fields])
    writer.writerow(["total", "", *[_cell(report["totals"][f]) for f in fields]])
    for group, items in report["by"].items():
        for key, values in items.items():
            writer.writerow([group, key, *[_cell(values[f]) for f in fields]])
    return buf.getvalue()


def _cell(value: Any) -> Any:
    return "" if value is None else value


def default_range(now: datetime, days: float = 30) -> tuple[datetime, datetime]:
    return now - timedelta(days=days), now + timedelta(seconds=1)
