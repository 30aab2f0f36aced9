"""Zone schedules: hours and dates at which a zone permits a category (a night market, a café terrace licensed
10:00-22:00, goods out before 08:00 for delivery). While a permit holds, objects of that category count as
absent in that zone (the rules see nothing; an open episode clears after its clear time), so episodes only
count outside what is permitted. Times are the camera's local time (``timezone:`` of the zones file).

```yaml
timezone: Asia/Shanghai
zones:
  - id: z-cafe
    ...
    permits:
      - categories: [out_of_store_trading]
        hours: ["10:00-22:00"]          # local, start inclusive, end exclusive
      - categories: [street_vending]
        hours: ["22:00-02:00"]          # across midnight: belongs to the day it starts on
        days: [fri, sat]                # optional weekdays (of the start day)
      - categories: [stacked_materials]
        dates: ["2026-12-24"]           # optional listed dates; no hours: the whole day
```

>>> from datetime import datetime, UTC
>>> p = Permit(categories=["street_vending"], hours=["22:00-02:00"], days=["fri"])
>>> night = datetime(2026, 12, 4, 17, 30, tzinfo=UTC)  # Sat 01:30 in Shanghai: Friday's night market
>>> permitted([p], "street_vending", night, "Asia/Shanghai"), permitted([p], "street_vending", night, "UTC")
(True, False)
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from detector.categories import Category

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


def parse_window(text: str) -> tuple[int, int]:
    """``"HH:MM-HH:MM"`` -> (start, end) minutes of the day; end may be below start (across midnight)."""
    m = _WINDOW.match(text.strip())
    if m is None:
        raise ValueError(f"hours {text!r}: expected HH:MM-HH:MM (local time), e.g. 10:00-22:00")
    start, end = int(m[1]) * 60 + int(m[2]), int(m[3]) * 60 + int(m[4])
    if start > 24 * 60 or end > 24 * 60:
        raise ValueError(f"hours {text!r}: a time is past 24:00")
    if start == end:
        raise ValueError(f"hours {text!r}: the window is empty (start equals end)")
    return start, end


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as Asia/Shanghai or UTC") from None
    return name


class Permit(BaseModel):
    """Categories a zone permits at listed hours, weekdays and/or dates (all given ones must hold)."""

    model_config = ConfigDict(extra="forbid")

    categories: Annotated[list[Category], Field(title="Categories", description="Categories permitted while the "
                                                "permit holds", min_length=1)]
    hours: Annotated[list[str], Field(title="Hours", description="Local time windows HH:MM-HH:MM (end exclusive; "
                                      "22:00-02:00 crosses midnight and belongs to its start day); none: all day")] = []
    days: Annotated[list[str], Field(title="Weekdays", description="mon..sun of the window's start day; "
                                     "none: every day")] = []
    dates: Annotated[list[date], Field(title="Dates", description="Listed dates (YYYY-MM-DD) of the window's "
                                       "start day; none: any date")] = []

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: list[str]) -> list[str]:
        for window in v:
            parse_window(window)
        return v

    @field_validator("days")
    @classmethod
    def _days(cls, v: list[str]) -> list[str]:
        out = [d.strip().lower()[:3] for d in v]
        for d, raw in zip(out, v, strict=True):
            if d not in WEEKDAYS:
                raise ValueError(f"day {raw!r}: expected one of {', '.join(WEEKDAYS)}")
        return out

    def _day_ok(self, day: date) -> bool:
        return ((not self.days or WEEKDAYS[day.weekday()] in self.days)
                and (not self.dates or day in self.dates))

    def holds(self, local: datetime) -> bool:
        """Whether the permit holds at ``local`` (the camera's wall time, tz-aware)."""
        minute = local.hour * 60 + local.minute + local.second / 60
        today = local.date()
        if not self.hours:
            return self._day_ok(today)
        for window in self.hours:
            start, end = parse_window(window)
            if start < end:
                if start <= minute < end and self._day_ok(today):
                    return True
            elif (minute >= start and self._day_ok(today)) or (minute < end and self._day_ok(today - timedelta(days=1))):
                return True
        return False


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def permitted(permits: list[Permit], category: str, when: datetime, timezone: str = "UTC") -> bool:
    """Whether ``category`` is permitted at ``when`` (tz-aware; naive is taken as UTC) in the camera's zone."""
    if not permits:
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=_zone("UTC"))
    local = when.astimezone(_zone(timezone))
    return any(category in {str(c) for c in p.categories} and p.holds(local) for p in permits)


__all__ = ["WEEKDAYS", "Permit", "check_timezone", "parse_window", "permitted"]
