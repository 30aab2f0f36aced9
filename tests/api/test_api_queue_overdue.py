"""``GET /api/v1/cases?overdue=true`` answers the same whichever plan SQLite is steered to (few or many late)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from apikit import event, post_event
from sqlalchemy import update

from api.db.models import Case
from api.db.session import session_scope
from api.services import queue as queue_service
from detector.categories import Category


@pytest.mark.parametrize("sort_limit", [1, 10_000])  # 1: "many overdue" (index walk); 10,000: few (due index)
def test_overdue_filter_is_the_same_on_either_plan(client, world, app, monkeypatch, sort_limit):
    monkeypatch.setattr(queue_service, "SQLITE_OVERDUE_SORT_LIMIT", sort_limit)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    ids = [post_event(client, world.tokens["edge_x"], event(world.cam_a, world.zone_a, category=cat,
                                                            started_at=t0)).json()["case_id"]
           for cat in list(Category)[:4]]
    now = app.state.clock.now()
    with session_scope(app.state.session_factory) as s:  # late, late, not yet due, late but in a done state
        s.execute(update(Case).where(Case.id.in_(ids[:2])).values(state="notified", due_at=now - timedelta(hours=1)))
        s.execute(update(Case).where(Case.id == ids[2]).values(state="notified", due_at=now + timedelta(hours=1)))
        s.execute(update(Case).where(Case.id == ids[3]).values(state="closed", due_at=now - timedelta(hours=1)))
    page = client.get("/api/v1/cases", params={"overdue": "true", "camera": world.cam_a},
                      headers=world.auth("operator")).json()
    assert sorted(c["id"] for c in page["items"]) == sorted(ids[:2])
    assert all(c["overdue"] for c in page["items"])
