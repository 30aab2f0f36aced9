"""The operator queue: filters, sort, pagination; ``/queue/rows`` is the same list as a partial for
refreshes without a full reload. The filters are `api.schemas.cases.CaseFilters`, the same as
``GET /api/v1/cases`` (`api.services.queue`), read from the query string; the form offers the common ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from api.db.models import OPEN_STATES, Camera, CaseState, Merchant, Road
from api.schemas.cases import CaseFilters
from api.services import cases as case_service
from api.services import queue as queue_service
from api.web.context import DbDep, Page, StaffPage
from detector.categories import ALL_CATEGORIES

router = APIRouter()

PAGE_SIZE = 20
SORTS = tuple(queue_service.PAGE_SORTS)
#: The quick actions offered on a queue row (the case page offers all of them).
ROW_ACTIONS = ["confirm", "reject"]
#: Filters that take several values (``?state=notified&state=escalated``).
MULTI = {"state", "category"}


@dataclass
class QueueView:
    """The queue as asked for: the filters, sort and page, and what was refused (shown, not applied)."""

    filters: CaseFilters
    sort: str = "newest"
    page: int = 1
    refused: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    # What the form's single-choice selects show.
    @property
    def state(self) -> str:
        values = self.raw.get("state") or []
        return values[0] if len(values) == 1 else ""

    @property
    def category(self) -> str:
        values = self.raw.get("category") or []
        return values[0] if len(values) == 1 else ""

    @classmethod
    def from_request(cls, request: Request) -> QueueView:
        q = request.query_params
        raw: dict[str, Any] = {}
        for name in CaseFilters.model_fields:
            values = [v for v in q.getlist(name) if v.strip()]  # an empty form field does not filter
            if values:
                raw[name] = values if name in MULTI else values[-1]
        given = dict(raw)
        if "open" in raw.get("state", []):  # the form's shorthand for every state still being worked
            raw["state"] = [*(s for s in raw["state"] if s != "open"), *(s.value for s in OPEN_STATES)]
        refused: list[str] = []
        try:
            filters = CaseFilters.model_validate(raw)
        except ValidationError as exc:
            bad = {str(e["loc"][0]) for e in exc.errors()}
            refused = [f"{e['loc'][0]}: {e['msg']}" for e in exc.errors()]
            filters = CaseFilters.model_validate({k: v for k, v in raw.items() if k not in bad})
            given = {k: v for k, v in given.items() if k not in bad}
        sort = q.get("sort") or "newest"
        if sort not in queue_service.PAGE_SORTS:
            refused.append(f"sort: one of {', '.join(SORTS)}")
            sort = "newest"
        page_text = q.get("page", "")
        page = int(page_text) if page_text.isascii() and page_text.isdigit() and len(page_text) <= 9 else 1
        return cls(filters=filters, sort=sort, page=page, refused=refused, raw=given)

    def query(self) -> dict[str, Any]:
        """The query string of this view (for links back to it)."""
        out: dict[str, Any] = dict(self.raw)
        if self.sort != "newest":
            out["sort"] = self.sort
        if self.page > 1:
            out["page"] = str(self.page)
        return out


def _rows_context(page: Page, db: DbDep) -> dict[str, Any]:
    view = QueueView.from_request(page.request)
    now = page.now()
    user = page.user
    assert user is not None
    numbered = queue_service.numbered_page(db, view.filters, now, user.id, view.sort, view.page, PAGE_SIZE)
    view.page = numbered.page
    query = view.query()
    return {"f": view, "rows": numbered.rows, "total": numbered.total, "pages": numbered.pages,
            "page_no": numbered.page, "now": now, "is_overdue": lambda c: queue_service.is_overdue(c, now),
            "row_actions": lambda c: case_service.actions_for(user, c, ROW_ACTIONS),
            "refused": view.refused, "back": "/queue" + ("?" + urlencode(query, doseq=True) if query else "")}


def _status(ctx: dict[str, Any]) -> int:
    return 422 if ctx["refused"] else 200  # a refused filter is said on the page, and the page says 422


@router.get("/", include_in_schema=False)
def home() -> Response:
    return RedirectResponse("/queue", status_code=303)


@router.get("/queue", include_in_schema=False)
def queue(page: StaffPage, db: DbDep) -> Response:
    ctx = _rows_context(page, db)
    flash, flash_kind = page.read_flash()
    return page.render(
        "queue.html", status_code=_status(ctx), active="queue", states=[s.value for s in CaseState],
        categories=[c.value for c in ALL_CATEGORIES],
        roads=list(db.scalars(select(Road).order_by(Road.name))),
        cameras=list(db.scalars(select(Camera).order_by(Camera.code)).unique()),
        merchants=list(db.scalars(select(Merchant).order_by(Merchant.name).limit(500))),
        sorts=SORTS, flash=flash, flash_kind=flash_kind, **ctx)


@router.get("/queue/rows", include_in_schema=False)
def queue_rows(page: StaffPage, db: DbDep) -> Response:
    ctx = _rows_context(page, db)
    return page.render("_queue_rows.html", status_code=_status(ctx), **ctx)
