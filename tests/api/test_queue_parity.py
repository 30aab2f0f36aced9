"""The JSON queue (``GET /api/v1/cases``) and the web queue (``/queue/rows``) answer every filter with the same
cases in the same order, and that answer is the right one: both are `api.services.queue.filtered`.

The web queue is HTML: the case ids are read from its rows' ``data-case`` attributes. Runs on SQLite and
PostgreSQL, through the real app (TestClient), with a signed-in browser session for the pages.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from apikit import event, post_event
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from api.db.models import OPEN_STATES, Case, User
from api.db.session import session_scope
from api.services.registration import get_or_create_road
from detector.categories import Category

PASSWORD = "correct horse battery"  # apikit's staff password


def _api_ids(client: TestClient, headers: dict[str, str], params: list[tuple[str, str]]) -> list[int]:
    ids: list[int] = []
    cursor = None
    while True:
        query = [*params, ("limit", "500"), *([("cursor", cursor)] if cursor else [])]
        r = client.get("/api/v1/cases", params=query, headers=headers)
        assert r.status_code == 200, r.text
        ids += [c["id"] for c in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if not cursor:
            return ids


def _web_ids(web: TestClient, params: list[tuple[str, str]]) -> list[int]:
    r = web.get("/queue/rows", params=params)
    assert r.status_code == 200, r.text[:500]
    return [int(x) for x in re.findall(r'data-case="(\d+)"', r.text)]


@pytest.fixture()
def web(app, world):  # type: ignore[no-untyped-def]
    """A browser-like client signed in to the pages as the world's supervisor."""
    with TestClient(app, follow_redirects=False) as c:
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)  # type: ignore[union-attr]
        r = c.post("/login", data={"username": f"supervisor-{world.tag}", "password": PASSWORD,
                                   "csrf_token": csrf, "next": "/queue"})
        assert r.status_code == 303, r.text[:300]
        yield c


def test_every_filter_gives_the_same_cases_in_the_api_and_the_web_queue(app, client, world, web, monkeypatch):
    monkeypatch.setattr("api.web.queue.PAGE_SIZE", 100_000)  # one page: compare whole result sets
    cats = list(Category)
    # One case per (zone, category): cam_b's merchant zone, cam_a's merchant zone, cam_a's free zone.
    spots = [("edge_y", world.cam_b, world.zone_b), ("edge_x", world.cam_a, world.zone_a),
             ("edge_x", world.cam_a, world.zone_free)]
    ids = [post_event(client, world.tokens[spots[i % 3][0]],
                      event(spots[i % 3][1], spots[i % 3][2], category=cats[i % len(cats)])).json()["case_id"]
           for i in range(9)]
    assert len(set(ids)) == 9
    now = app.state.clock.now()
    late, soon = now - timedelta(hours=1), now + timedelta(hours=1)
    # (state, due_at, created ago, escalation level, assigned): overdue only where late AND waiting on someone.
    plan = [("notified", late, timedelta(minutes=30), 0, True),      # overdue
            ("escalated", late, timedelta(hours=3), 1, False),       # overdue
            ("confirmed", late, timedelta(days=3), 0, False),        # overdue
            ("notified", soon, timedelta(minutes=30), 0, False),     # not yet due
            ("closed", late, timedelta(hours=3), 0, True),           # late but done: not overdue
            ("merchant_reported_fixed", late, timedelta(days=3), 0, False),  # waits on us: not overdue
            ("detected", None, timedelta(minutes=30), 0, False),
            ("rejected", None, timedelta(hours=3), 0, False),
            ("escalated", soon, timedelta(days=3), 2, True)]
    with session_scope(app.state.session_factory) as s:
        other_road = get_or_create_road(s, f"Other road {world.tag}")
        supervisor = s.scalar(select(User).where(User.username == f"supervisor-{world.tag}"))
        operator = s.scalar(select(User).where(User.username == f"operator-{world.tag}"))
        assert other_road is not None and supervisor is not None and operator is not None
        for i, (case_id, (state, due, ago, level, assigned)) in enumerate(zip(ids, plan, strict=True)):
            s.execute(update(Case).where(Case.id == case_id).values(
                state=state, due_at=due, created_at=now - ago, escalation_level=level,
                road_id=other_road.id if i == 4 else Case.road_id,
                assignee_id=(supervisor.id if i == 0 else operator.id) if assigned else None))
    overdue = set(ids[:3])
    cases: list[tuple[list[tuple[str, str]], set[int] | None]] = [
        ([], None),
        ([("state", "notified")], {ids[0], ids[3]}),
        ([("state", "notified"), ("state", "escalated")], {ids[0], ids[1], ids[3], ids[8]}),
        ([("category", cats[0].value), ("category", cats[1].value)],
         {i for n, i in enumerate(ids) if n % len(cats) in (0, 1)}),
        ([("road", world.road)], set(ids) - {ids[4]}),
        ([("road", f"Other road {world.tag}")], {ids[4]}),
        ([("camera", world.cam_b)], {ids[0], ids[3], ids[6]}),
        ([("merchant", world.merchant_b)], {ids[0], ids[3], ids[6]}),
        ([("overdue", "true")], overdue),
        ([("overdue", "false")], None),
        ([("min_age_s", "3600")], {ids[1], ids[2], ids[4], ids[5], ids[7], ids[8]}),
        ([("max_age_s", "7200")], {ids[0], ids[3], ids[6]}),
        ([("min_age_s", "3600"), ("max_age_s", str(86400))], {ids[1], ids[4], ids[7]}),
        ([("assignee", "me")], {ids[0]}),  # both clients are the supervisor
        ([("assignee", f"operator-{world.tag}")], {ids[4], ids[8]}),
        ([("assignee", "none")], None),
        ([("escalation_level", "1")], None),
        ([("escalation_level", "2"), ("camera", world.cam_a)], {ids[8]}),
        ([("overdue", "true"), ("camera", world.cam_a), ("state", "escalated")], {ids[1]}),
        ([("road", "no such road")], set()),
    ]
    headers = world.auth("supervisor")
    for params, expected_mine in cases:
        api_ids, web_ids = _api_ids(client, headers, params), _web_ids(web, params)
        assert api_ids == web_ids, params  # same cases, same (newest first) order
        if expected_mine is not None:
            assert set(api_ids) & set(ids) == expected_mine, params
    # Overdue is one meaning everywhere: the flag on each case agrees with the filter.
    flagged = {c["id"] for c in client.get("/api/v1/cases", params={"camera": world.cam_a, "limit": 500},
                                           headers=headers).json()["items"] if c["overdue"]}
    assert flagged == overdue & set(_api_ids(client, headers, [("camera", world.cam_a)]))
    # The web form's "open" is every open state.
    open_params = [("state", s.value) for s in OPEN_STATES]
    assert _web_ids(web, [("state", "open")]) == _api_ids(client, headers, open_params)
    assert set(_web_ids(web, [("state", "open")])) & set(ids) == set(ids) - {ids[4], ids[7]}
