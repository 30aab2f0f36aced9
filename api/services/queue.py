"""The case queue: the one definition of every filter (`CaseFilters`) and of "overdue", for the JSON queue
(keyset pages, ``GET /api/v1/cases``) and the web queue (numbered pages, ``/queue``).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, func, select, tuple_
from sqlalchemy.orm import Session

from api.db.models import Camera, Case, CaseState, Merchant, Road, User
from api.schemas.cases import CaseFilters
from api.schemas.types import MAX_INT64, utc_in_range
from api.services.errors import Invalid

#: States in which a passed due_at means the case is late: the city waits on the merchant or on enforcement.
LATE_STATES = (CaseState.NOTIFIED.value, CaseState.ESCALATED.value, CaseState.CONFIRMED.value)

#: Keyset sorts of the JSON queue: field -> column ('-field' for descending).
KEYSET_SORTS = {"created_at": Case.created_at, "updated_at": Case.updated_at, "confidence": Case.confidence,
                "last_seen_at": Case.last_seen_at}
KeysetSort = Literal["created_at", "-created_at", "updated_at", "-updated_at", "confidence", "-confidence",
                     "last_seen_at", "-last_seen_at"]
#: Sorts of the web queue (numbered pages); "due" puts cases without a deadline last.
PAGE_SORTS = {
    "newest": (Case.created_at.desc(), Case.id.desc()),
    "oldest": (Case.created_at.asc(), Case.id.asc()),
    "confidence": (Case.confidence.desc(), Case.id.desc()),
    "due": (Case.due_at.is_(None), Case.due_at.asc(), Case.id.asc()),
}

#: SQLite plans ``overdue=true`` on ix_cases_due and then sorts every overdue case: right for a few, but
#: 1.2 s p99 with ~140k overdue at 1M cases. From this many on it walks the sort column's index instead and
#: stops at the page. PostgreSQL weighs both plans itself.
SQLITE_OVERDUE_SORT_LIMIT = 2000

BAD_CURSOR = "invalid cursor: use the next_cursor of the previous page"


def is_overdue(case: Case, now: datetime) -> bool:
    """The one meaning of overdue: past its deadline while in a state that waits on someone (`LATE_STATES`)."""
    return bool(case.due_at is not None and case.due_at <= now and case.state in LATE_STATES)


def _overdue(now: datetime, due: Any = Case.due_at) -> ColumnElement[bool]:
    return (due.is_not(None)) & (due <= now) & Case.state.in_(LATE_STATES)


def _not_overdue(now: datetime) -> ColumnElement[bool]:
    return Case.due_at.is_(None) | (Case.due_at > now) | Case.state.not_in(LATE_STATES)


def _many_overdue(session: Session, now: datetime) -> bool:
    """At least `SQLITE_OVERDUE_SORT_LIMIT` cases past their deadline (counted on ix_cases_due, capped)."""
    capped = (select(Case.id).where(Case.due_at.is_not(None), Case.due_at <= now)
              .limit(SQLITE_OVERDUE_SORT_LIMIT).subquery())
    return (session.scalar(select(func.count()).select_from(capped)) or 0) >= SQLITE_OVERDUE_SORT_LIMIT


def filtered(session: Session, f: CaseFilters, now: datetime, user_id: int | None,
             walk_sort_index: bool = False) -> Select[tuple[Case]]:
    """The cases `f` selects (``assignee='me'`` is `user_id`). ``walk_sort_index``: the caller reads one
    sorted page, so on SQLite with many late cases the overdue test is kept off ix_cases_due (same rows)."""
    q: Select[tuple[Case]] = select(Case)
    if f.state:
        q = q.where(Case.state.in_([s.value for s in f.state]))
    if f.category:
        q = q.where(Case.category.in_([c.value for c in f.category]))
    if f.road:
        q = q.where(Case.road_id == select(Road.id).where(Road.name == f.road).scalar_subquery())
    if f.camera:
        q = q.where(Case.camera_id == select(Camera.id).where(Camera.code == f.camera).scalar_subquery())
    if f.merchant:
        q = q.where(Case.merchant_id == select(Merchant.id).where(Merchant.code == f.merchant).scalar_subquery())
    if f.overdue is True:
        due: Any = Case.due_at
        if walk_sort_index and session.get_bind().dialect.name == "sqlite" and _many_overdue(session, now):
            due = func.coalesce(Case.due_at, Case.due_at)  # SQLite's "+due_at": keeps the planner off ix_cases_due
        q = q.where(_overdue(now, due))
    elif f.overdue is False:
        q = q.where(_not_overdue(now))
    if f.min_age_s is not None:
        q = q.where(Case.created_at <= now - timedelta(seconds=f.min_age_s))
    if f.max_age_s is not None:
        q = q.where(Case.created_at >= now - timedelta(seconds=f.max_age_s))
    if f.assignee == "me":
        q = q.where(Case.assignee_id == user_id)
    elif f.assignee == "none":
        q = q.where(Case.assignee_id.is_(None))
    elif f.assignee:
        q = q.where(Case.assignee_id == select(User.id).where(User.username == f.assignee).scalar_subquery())
    if f.escalation_level is not None:
        q = q.where(Case.escalation_level == f.escalation_level)
    return q


# ----- keyset pages (JSON queue) -------------------------------------------------------------------
def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort_key: str) -> tuple[Any, int]:
    """(sort value, last id) of a cursor this service made for ``sort_key``; anything else is a 422."""
    try:
        values = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Invalid(BAD_CURSOR) from None
    if not (isinstance(values, list) and len(values) == 2):
        raise Invalid(BAD_CURSOR)
    value, last_id = values
    if type(last_id) is not int or not 0 <= last_id <= MAX_INT64:  # bool is an int: refused by type()
        raise Invalid(BAD_CURSOR)
    if sort_key == "confidence":
        if type(value) not in (int, float) or not math.isfinite(value):
            raise Invalid(BAD_CURSOR)
        return float(value), last_id
    if not isinstance(value, str):
        raise Invalid(BAD_CURSOR)
    try:
        return utc_in_range(datetime.fromisoformat(value)), last_id
    except ValueError:
        raise Invalid(BAD_CURSOR) from None


def keyset_page(session: Session, f: CaseFilters, now: datetime, user_id: int | None, sort: KeysetSort,
                limit: int, cursor: str | None) -> tuple[list[Case], str | None]:
    """One page of the queue in ``sort`` order after ``cursor``, and the cursor of the next page (or None)."""
    key = sort.lstrip("-")
    column = KEYSET_SORTS[key]
    descending = sort.startswith("-")
    q = filtered(session, f, now, user_id, walk_sort_index=True)
    if cursor:
        value, last_id = decode_cursor(cursor, key)
        bound, target = tuple_(column, Case.id), tuple_(value, last_id)
        q = q.where(bound < target if descending else bound > target)
    order = (column.desc(), Case.id.desc()) if descending else (column.asc(), Case.id.asc())
    rows = list(session.scalars(q.order_by(*order).limit(limit + 1)).unique())
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = getattr(rows[-1], key)
    return rows, encode_cursor([last.isoformat() if isinstance(last, datetime) else last, rows[-1].id])


# ----- numbered pages (web queue) ------------------------------------------------------------------
@dataclass
class NumberedPage:
    rows: list[Case]
    total: int
    pages: int
    page: int  # the page shown: the one asked for, kept within 1..pages


def numbered_page(session: Session, f: CaseFilters, now: datetime, user_id: int | None, sort: str,
                  page: int, page_size: int) -> NumberedPage:
    base = filtered(session, f, now, user_id)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    pages = max(1, math.ceil(total / page_size))
    page = min(max(1, page), pages)
    rows = list(session.scalars(base.order_by(*PAGE_SORTS.get(sort, PAGE_SORTS["newest"]))
                                .offset((page - 1) * page_size).limit(page_size)).unique())
    return NumberedPage(rows=rows, total=total, pages=pages, page=page)
