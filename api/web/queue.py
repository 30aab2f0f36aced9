"""The operator queue: filters, sort, pagination; ``/queue/rows`` is the same list as a partial for
refreshes without a full reload.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Select, func, select

from api.db.models import OPEN_STATES, Camera, Case, CaseState, Merchant, Road
from api.web.context import DbDep, Page, StaffPage
from api.workflow import Action, allowed_actions, role_may
from detector.categories import ALL_CATEGORIES

router = APIRouter()

PAGE_SIZE = 20
SORTS = ("newest", "oldest", "confidence", "due")
#: The quick actions offered on a queue row (the case page offers all of them).
ROW_ACTIONS = ("confirm", "reject")


@dataclass
class QueueFilters:
    state: str = ""
    category: str = ""
    road: int | None = None
    camera: int | None = None
    merchant: int | None = None
    overdue: bool = False
    sort: str = "newest"
    page: int = 1

    @classmethod
    def from_request(cls, request: Request) -> QueueFilters:
        q = request.query_params

        def as_int(name: str) -> int | None:
            value = q.get(name, "").strip()
            return int(value) if value.isdigit() else None

        state = q.get("state", "")
        category = q.get("category", "")
        return cls(
            state=state if state == "open" or state in {s.value for s in CaseState} else "",
            category=category if category in {c.value for c in ALL_CATEGORIES} else "",
            road=as_int("road"), camera=as_int("camera"), merchant=as_int("merchant"),
            overdue=q.get("overdue") in ("1", "on", "true"),
            sort=q.get("sort") if q.get("sort") in SORTS else "newest",
            page=max(1, as_int("page") or 1))

    def query(self) -> dict[str, str]:
        out = {"state": self.state, "category": self.category, "road": self.road, "camera": self.camera,
               "merchant": self.merchant, "overdue": "1" if self.overdue else "", "sort": self.sort,
               "page": self.page if self.page > 1 else ""}
        return {k: str(v) for k, v in out.items() if v not in (None, "")}


def filtered(f: QueueFilters, now: Any) -> Select[tuple[Case]]:
    stmt = select(Case)
    if f.state == "open":
        stmt = stmt.where(Case.state.in_([s.value for s in OPEN_STATES]))
    elif f.state:
        stmt = stmt.where(Case.state == f.state)
    if f.category:
        stmt = stmt.where(Case.category == f.category)
    if f.road is not None:
        stmt = stmt.where(Case.road_id == f.road)
    if f.camera is not None:
        stmt = stmt.where(Case.camera_id == f.camera)
    if f.merchant is not None:
        stmt = stmt.where(Case.merchant_id == f.merchant)
    if f.overdue:
        stmt = stmt.where(Case.due_at.is_not(None), Case.due_at < now)
    return stmt


def ordered(stmt: Select[tuple[Case]], sort: str) -> Select[tuple[Case]]:
    if sort == "oldest":
        return stmt.order_by(Case.created_at.asc(), Case.id.asc())
    if sort == "confidence":
        return stmt.order_by(Case.confidence.desc(), Case.id.desc())
    if sort == "due":
        return stmt.order_by(Case.due_at.is_(None), Case.due_at.asc(), Case.id.asc())
    return stmt.order_by(Case.created_at.desc(), Case.id.desc())


def _rows_context(page: Page, db: DbDep) -> dict[str, Any]:
    f = QueueFilters.from_request(page.request)
    now = page.now()
    base = filtered(f, now)
    total = db.scalar(select(func.count()).select_from(base.subquery())) or 0
    pages = max(1, math.ceil(total / PAGE_SIZE))
    f.page = min(f.page, pages)
    rows = list(db.scalars(ordered(base, f.sort).offset((f.page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).unique())
    role = page.user.role if page.user else ""

    def row_actions(case: Case) -> list[str]:
        allowed = allowed_actions(case)
        return [a for a in ROW_ACTIONS if a in allowed and role_may(role, Action(a), case)]

    query = f.query()
    return {"f": f, "rows": rows, "total": total, "pages": pages, "page_no": f.page, "now": now,
            "row_actions": row_actions, "back": "/queue" + ("?" + urlencode(query) if query else "")}


@router.get("/", include_in_schema=False)
def home() -> Response:
    return RedirectResponse("/queue", status_code=303)


@router.get("/queue", include_in_schema=False)
def queue(page: StaffPage, db: DbDep) -> Response:
    ctx = _rows_context(page, db)
    flash, flash_kind = page.read_flash()
    return page.render(
        "queue.html", active="queue", states=[s.value for s in CaseState],
        categories=[c.value for c in ALL_CATEGORIES],
        roads=list(db.scalars(select(Road).order_by(Road.name))),
        cameras=list(db.scalars(select(Camera).order_by(Camera.code)).unique()),
        merchants=list(db.scalars(select(Merchant).order_by(Merchant.name).limit(500))),
        sorts=SORTS, flash=flash, flash_kind=flash_kind, **ctx)


@router.get("/queue/rows", include_in_schema=False)
def queue_rows(page: StaffPage, db: DbDep) -> Response:
    return page.render("_queue_rows.html", **_rows_context(page, db))

