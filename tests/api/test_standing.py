"""Merchant standing over the merchant API and the staff API, on SQLite and PostgreSQL: green with no
record, yellow for a repeat offence, red after two escalations, green again once the cases leave the
rolling window (the service clock moved on), with the advice and the date it improves.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apikit import event, post_event
from sqlalchemy import select

from api.db.models import Merchant
from api.services.standing import standing


def _standing(client, world, who="merchant_a", lang="en"):  # type: ignore[no-untyped-def]
    r = client.get(f"/api/v1/merchant/standing?lang={lang}", headers=world.auth(who))
    assert r.status_code == 200, r.text
    return r.json()


def _confirmed_case(client, world, minutes_ago: int) -> int:  # type: ignore[no-untyped-def]
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes_ago)
    case_id = post_event(client, world.tokens["edge_x"], event(world.cam_a, world.zone_a, started_at=started)).json()[
        "case_id"]
    r = client.post(f"/api/v1/cases/{case_id}/actions/confirm", json={}, headers=world.auth("operator"))
    assert r.status_code == 200 and r.json()["case"]["state"] == "notified", r.text
    return case_id


def test_standing_moves_with_the_record_and_the_window(client, world, app):
    clean = _standing(client, world, "merchant_b")
    assert clean["level"] == "green" and clean["cases"] == 0 and "stay green" in clean["advice"][0]

    first = _confirmed_case(client, world, 300)
    assert _standing(client, world)["level"] == "green"
    # A new case hours after the first: a repeat offence (yellow), improving when it leaves the window.
    second = _confirmed_case(client, world, 10)
    got = _standing(client, world)
    assert (got["level"], got["repeat"], got["reasons"]) == ("yellow", 1, ["yellow_repeat"])
    assert "yellow_repeat" in got["improves_on"] and "A month without a new case" in got["advice"][0]
    zh = _standing(client, world, lang="zh-CN")
    assert zh["label"] == "需注意" and "一个月内" in zh["advice"][0]

    for case_id in (first, second):
        r = client.post(f"/api/v1/cases/{case_id}/actions/escalate", json={}, headers=world.auth("supervisor"))
        assert r.status_code == 200, r.text
    got = _standing(client, world)
    assert got["level"] == "red" and got["escalated"] == 2 and "red_escalated" in got["reasons"]
    assert "Fix every notice before its deadline" in got["advice"][0]
    staff = client.get(f"/api/v1/registry/merchants/{world.merchant_a}/standing?lang=en",
                       headers=world.auth("operator"))
    assert staff.status_code == 200 and staff.json()["level"] == "red"
    assert client.get("/api/v1/merchant/standing", headers=world.auth("operator")).status_code == 403

    # 91 days later both cases have left the 90-day window (the service function at a later instant: moving
    # the shared test app's clock would move it for every other test of the session).
    with app.state.session_factory() as s:
        merchant = s.scalar(select(Merchant).where(Merchant.code == world.merchant_a))
        later = standing(s, merchant, app.state.settings.standing_rules, app.state.clock.now() + timedelta(days=91))
    assert (later.level, later.cases, later.escalated) == ("green", 0, 0)
