"""A merchant's standing: green / yellow / red from its record over a rolling window, and what would
improve it. The rules (`StandingRules`, setting ``standing_rules``) are written out in docs/STATS.md.

Counted over the cases confirmed in the last ``window_days``:

- cases: confirmed cases (rejected false alarms never count against a merchant);
- self_rectified: fixed by the merchant in time and verified, never escalated;
- escalated: passed to enforcement (missed deadline, or repeat offender);
- repeat: cases confirmed less than ``repeat_gap_days`` after the merchant's previous confirmed case.

red    if escalated >= red_escalated or repeat >= red_repeat
yellow if escalated >= yellow_escalated or repeat >= yellow_repeat, or (with at least ``min_cases`` cases
       that have an outcome) the self-rectification rate is below ``yellow_below_rate``
green  otherwise (a merchant with no case is green)

>>> rules = StandingRules()
>>> level_for(rules, escalated=0, repeat=0, self_rectified=3)
('green', [])
>>> level_for(rules, escalated=2, repeat=0, self_rectified=5)[0]
'red'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.core.standing import StandingRules
from api.db.models import Case, Merchant

Level = Literal["green", "yellow", "red"]
__all__ = ["ADVICE", "Standing", "StandingRules", "advice", "level_for", "standing"]


@dataclass
class Standing:
    level: Level
    window_days: float
    since: datetime
    cases: int
    self_rectified: int
    escalated: int
    repeat: int
    rate: float | None
    reasons: list[str] = field(default_factory=list)  # message keys, see ADVICE
    clears_on: dict[str, datetime] = field(default_factory=dict)  # reason -> when it drops out of the window


def level_for(rules: StandingRules, *, escalated: int, repeat: int, self_rectified: int) -> tuple[Level, list[str]]:
    reasons: list[str] = []
    if escalated >= rules.red_escalated:
        reasons.append("red_escalated")
    if repeat >= rules.red_repeat:
        reasons.append("red_repeat")
    if reasons:
        return "red", reasons
    if escalated >= rules.yellow_escalated:
        reasons.append("yellow_escalated")
    if repeat >= rules.yellow_repeat:
        reasons.append("yellow_repeat")
    decided = self_rectified + escalated
    if decided >= rules.min_cases and self_rectified / decided < rules.yellow_below_rate:
        reasons.append("yellow_rate")
    return ("yellow" if reasons else "green"), reasons


def standing(session: Session, merchant: Merchant, rules: StandingRules, now: datetime) -> Standing:
    since = now - timedelta(days=rules.window_days)
    rows = session.execute(select(Case.confirmed_at, Case.self_rectified, Case.max_escalation_level)
                           .where(Case.merchant_id == merchant.id, Case.confirmed_at.is_not(None),
                                  Case.confirmed_at >= since - timedelta(days=rules.repeat_gap_days))
                           .order_by(Case.confirmed_at)).all()
    cases = sr = esc = repeat = 0
    previous: datetime | None = None
    escalated_at: list[datetime] = []
    repeat_at: list[datetime] = []
    for confirmed_at, self_rectified, level in rows:
        inside = confirmed_at >= since
        if inside:
            cases += 1
            if self_rectified and level == 0:
                sr += 1
            if level >= 1:
                esc += 1
                escalated_at.append(confirmed_at)
            if previous is not None and confirmed_at - previous < timedelta(days=rules.repeat_gap_days):
                repeat += 1
                repeat_at.append(confirmed_at)
        previous = confirmed_at
    level, reasons = level_for(rules, escalated=esc, repeat=repeat, self_rectified=sr)
    out = Standing(level=level, window_days=rules.window_days, since=since, cases=cases, self_rectified=sr,
                   escalated=esc, repeat=repeat, rate=round(sr / (sr + esc), 4) if sr + esc else None, reasons=reasons)
    window = timedelta(days=rules.window_days)
    # When the reason stops holding on its own: the oldest case that keeps it true leaves the window.
    for reason, stamps, need in (("red_escalated", escalated_at, rules.red_escalated),
                                 ("yellow_escalated", escalated_at, rules.yellow_escalated),
                                 ("red_repeat", repeat_at, rules.red_repeat),
                                 ("yellow_repeat", repeat_at, rules.yellow_repeat)):
        if reason in reasons and len(stamps) >= need:
            out.clears_on[reason] = stamps[len(stamps) - need] + window
    return out


#: What the merchant is told, per reason (and for green), in both languages; ``{date}`` when it clears.
ADVICE: dict[str, dict[str, str]] = {
    "en": {
        "level.green": "Good standing", "level.yellow": "Needs attention", "level.red": "Poor standing",
        "summary": "Last {days:g} days: {cases} case(s), {self_rectified} fixed in time, {escalated} escalated, "
                   "{repeat} repeat(s).",
        "green": "Keep the frontage clear and fix any notice before its deadline to stay green.",
        "red_escalated": "Too many cases went to enforcement. Fix every notice before its deadline; "
                         "this improves on {date} if no more are escalated.",
        "red_repeat": "The same problems keep coming back. Keep goods, bins and bikes inside your line every day; "
                      "this improves on {date} if no new case is found.",
        "yellow_escalated": "A case went to enforcement. Fixing the next notices in time brings you back to green "
                            "on {date}.",
        "yellow_repeat": "A problem came back within a month. A month without a new case brings you back to green "
                         "on {date}.",
        "yellow_rate": "Fewer than {rate:.0%} of your cases were fixed in time. Fix each notice before its deadline.",
        "title": "Your standing",
    },
    "zh-CN": {
        "level.green": "良好", "level.yellow": "需注意", "level.red": "较差",
        "summary": "近 {days:g} 天：{cases} 起案件，按时整改 {self_rectified} 起，升级处置 {escalated} 起，"
                   "重复发生 {repeat} 起。",
        "green": "保持门前整洁，收到通知后在期限前整改，即可保持良好。",
        "red_escalated": "较多案件已转执法处置。请在期限前完成每次整改；若不再有案件升级，{date} 起好转。",
        "red_repeat": "同类问题反复出现。请每天把货物、垃圾桶和车辆放在门前线内；若无新案件，{date} 起好转。",
        "yellow_escalated": "有案件已转执法处置。之后按时整改，{date} 起恢复良好。",
        "yellow_repeat": "一个月内问题再次出现。一个月内无新案件，{date} 起恢复良好。",
        "yellow_rate": "按时整改的案件不足 {rate:.0%}。请在每次通知的期限前完成整改。",
        "title": "您的信用等级",
    },
}


def advice(result: Standing, rules: StandingRules, lang: str,
           fmt_date: Callable[[datetime], str] = lambda d: d.strftime("%Y-%m-%d")) -> dict[str, Any]:
    """The merchant-facing text: level name, a one-line summary and one piece of advice per reason."""
    words = ADVICE.get(lang, ADVICE["zh-CN"])
    lines = [words[r].format(date=fmt_date(result.clears_on[r]) if r in result.clears_on else "—",
                             rate=rules.yellow_below_rate) for r in result.reasons] or [words["green"]]
    return {"title": words["title"], "level": result.level, "label": words[f"level.{result.level}"],
            "summary": words["summary"].format(days=result.window_days, cases=result.cases,
                                               self_rectified=result.self_rectified, escalated=result.escalated,
                                               repeat=result.repeat),
            "advice": lines}


def for_merchant(session: Session, merchant: Merchant, rules: StandingRules, now: datetime, lang: str,
                 fmt_date: Callable[[datetime], str] = lambda d: d.strftime("%Y-%m-%d")) -> dict[str, Any]:
    """Standing and advice together: what the merchant page and the merchant API show."""
    result = standing(session, merchant, rules, now)
    return {**advice(result, rules, lang, fmt_date), "window_days": result.window_days, "cases": result.cases,
            "self_rectified": result.self_rectified, "escalated": result.escalated, "repeat": result.repeat,
            "self_rectification_rate": result.rate, "reasons": result.reasons,
            "improves_on": {k: v.isoformat() for k, v in result.clears_on.items()}}
