"""Input types that keep bad values out of the database: use them for every query, path and body field.

PostgreSQL refuses NUL in text (psycopg raises before the query runs, which used to surface as a 500); other
control characters are never legitimate in a name, code or filter and only hide text in logs and pages.
Numbers must be finite and fit the columns they are compared with; datetimes must survive conversion to UTC
(``0001-01-01T00:00:00+05:00`` is a valid ISO string whose UTC instant Python cannot represent).

Every refusal raises ``ValueError`` inside pydantic, so FastAPI answers 422 with the field named.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field

#: Largest value a BIGINT column holds (ids, counts): beyond it the driver overflows instead of answering.
MAX_INT64 = 2**63 - 1
#: Earliest and latest instants accepted anywhere: far enough for any real record, and well inside what both
#: Python (years 1-9999 after any UTC offset) and PostgreSQL can compute with.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
#: Longest duration accepted as "seconds ago" (a century): ``now - timedelta(seconds=...)`` stays in range.
MAX_SPAN_S = 100 * 366 * 86400.0

_SINGLE_LINE = re.compile(r"[\x00-\x1f\x7f]")  # every C0 control character and DEL
_MULTI_LINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # the same, but tab, LF and CR are text


def _refuse(match: re.Match[str]) -> ValueError:
    return ValueError(f"must not contain control characters (found U+{ord(match.group()):04X} at "
                      f"position {match.start()})")


def clean_line(value: str) -> str:
    """A one-line string: names, codes, usernames, filters. No control character at all.

    >>> clean_line("Market Street")
    'Market Street'
    >>> clean_line("a\\x00b")
    Traceback (most recent call last):
    ...
    ValueError: must not contain control characters (found U+0000 at position 1)
    """
    if (match := _SINGLE_LINE.search(value)) is not None:
        raise _refuse(match)
    return value


def clean_text(value: str) -> str:
    """Free text (notes, addresses): tab and line breaks allowed, other control characters and NUL not."""
    if (match := _MULTI_LINE.search(value)) is not None:
        raise _refuse(match)
    return value


def finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def utc_in_range(value: datetime) -> datetime:
    """An aware datetime that converts to UTC and lies between `EARLIEST` and `LATEST` (naive ones pass:
    callers that need a time zone say so with their own message)."""
    if value.tzinfo is None:
        probe = value.replace(tzinfo=UTC)
    else:
        try:
            probe = value.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ValueError(f"must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}") from None
    if not EARLIEST <= probe <= LATEST:
        raise ValueError(f"must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}")
    return value


#: A one-line string with no control characters (names, codes, usernames, query filters, path segments).
CleanStr = Annotated[str, AfterValidator(clean_line)]
#: Free text: tab, LF and CR allowed; NUL and every other control character refused.
CleanText = Annotated[str, AfterValidator(clean_text)]
#: A float that is finite (no inf/nan).
FiniteFloat = Annotated[float, Field(allow_inf_nan=False), AfterValidator(finite)]
#: A duration in seconds from zero to a century.
Seconds = Annotated[float, Field(ge=0, le=MAX_SPAN_S, allow_inf_nan=False)]
#: An integer a BIGINT column holds.
Int64 = Annotated[int, Field(ge=-MAX_INT64 - 1, le=MAX_INT64)]
#: A datetime that survives conversion to UTC and lies within `EARLIEST`..`LATEST`.
BoundedDatetime = Annotated[datetime, AfterValidator(utc_in_range)]
