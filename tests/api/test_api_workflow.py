"""Workflow over the operator and merchant APIs: transitions, 409s, repeat offenders, locking, pagination."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from apikit import api_settings, event, jpeg, make_world, post_event
from sqlalchemy import select

from api.db.models import Notification
from detector.categories import Category


def new_case(client, world, zone=None, category=Category.OUT_OF_STORE_TRADING, minutes_ago=0, confidence=0.8):
    t = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes_ago)
    cam = world.cam_a if zone != world.zone_b else world.cam_b
    token = world.tokens["edge_x"] if cam == world.cam_a else world.tokens["edge_y"]
    r = post_event(client, token, event(cam, zone or world.zone_a, category=category, started_at=t,
                                        confidence=confidence))
    assert r.status_code in (200, 201), r.text
    return r.json()["case_id"]


def act(client, world, case_id, action, who="operator", **body):
    return client.post(f"/api/v1/cases/{case_id}/actions/{action}", json=body, headers=world.auth(who))


def test_illegal_transition_is_409_with_allowed_actions(client, world):
    case_id = new_case(client, world)
    r = act(client, world, case_id, "verify")
    assert r.status_code == 409
    assert r.json() == {"detail": "cannot verify a case in state detected", "allowed": ["confirm", "reject"]}
    assert act(client, world, case_id, "nonsense").status_code == 422


def test_confirm_notifies_merchant_with_link_and_deadline(client, world, app):
    case_id = new_case(client, world)
    r = act(client, world, case_id, "confirm", note="clear violation")
    assert r.status_code == 200, r.text
    assert r.json()["steps"] == [["confirm", "confirmed"], ["notify", "notified"]]
    case = r.json()["case"]
    assert case["state"] == "notified" and case["due_at"] is not None
    with app.state.session_factory() as s:
        note = s.scalar(select(Notification).where(Notification.case_id == case_id))
    assert note.kind == "merchant_notice" and note.payload["link"].startswith("http://frontage.test/m/fm_")
    # The link's token opens the merchant API.
    token = note.payload["link"].rsplit("/", 1)[1]
    mine = client.get(f"/api/v1/merchant/t/{token}/cases").json()
    assert [c["id"] for c in mine] == [case_id] and mine[0]["can_report_fixed"]


def test_rejected_is_final_and_zone_without_merchant_goes_to_l1(client, world):
    fp = new_case(client, world)
    assert act(client, world, fp, "reject", note="shadow").json()["case"]["state"] == "rejected"
    assert act(client, world, fp, "confirm").json()["allowed"] == []
    free = new_case(client, world, zone=world.zone_free)
    r = act(client, world, free, "confirm").json()
    assert r["steps"] == [["confirm", "confirmed"], ["escalate", "escalated"]]
    assert r["case"]["escalation_level"] == 1


def test_repeat_offender_skips_self_rectification(client, app):
    world = make_world(app)
    cats = list(Category)
    for i in range(3):
        cid = new_case(client, world, category=cats[i])
        assert act(client, world, cid, "confirm").json()["case"]["state"] == "notified"
    fourth = new_case(client, world, category=cats[3])
    r = act(client, world, fourth, "confirm").json()
    assert r["case"]["state"] == "escalated"
    detail = client.get(f"/api/v1/cases/{fourth}", headers=world.auth("operator")).json()
    assert "repeat offender" in detail["events"][-1]["note"]
    merchant = client.get(f"/api/v1/merchants/{world.merchant_a}", headers=world.auth("operator")).json()
    assert merchant["offence_count"] == 4


def test_enforcement_feedback_recheck_and_reopen(client, world):
    cid = new_case(client, world, zone=world.zone_free)
    act(client, world, cid, "confirm")
    # Street level handles L1; an operator may not give enforcement feedback.
    assert act(client, world, cid, "feedback", who="operator").status_code == 403
    r = act(client, world, cid, "feedback", who="enforcement_street", note="stall removed")
    assert r.json()["case"]["state"] == "recheck"
    assert act(client, world, cid, "reopen").json()["case"]["state"] == "reopened"
    assert act(client, world, cid, "escalate", who="operator").status_code == 403
    r = act(client, world, cid, "escalate", who="supervisor").json()
    assert r["case"]["state"] == "escalated"
    assert act(client, world, cid, "feedback", who="enforcement_city").json()["case"]["state"] == "recheck"
    assert act(client, world, cid, "close").json()["case"]["state"] == "closed"


def test_merchant_sees_only_own_cases_and_reports_fixed_with_photo(client, world):
    a = new_case(client, world)
    b = new_case(client, world, zone=world.zone_b)
    act(client, world, a, "confirm")
    act(client, world, b, "confirm")
    # Merchant A: B's case is 404 (not 403), list holds only A's.
    assert client.get(f"/api/v1/merchant/cases/{b}", headers=world.auth("merchant_a")).status_code == 404
    assert client.post(f"/api/v1/merchant/cases/{b}/report-fixed", data={"note": "x"},
                       headers=world.auth("merchant_a")).status_code == 404
    assert [c["id"] for c in client.get("/api/v1/merchant/cases", headers=world.auth("merchant_a")).json()] == [a]
    # Its own detection not yet confirmed looks missing too: a 409 would tell it the case exists.
    unconfirmed = new_case(client, world, category=Category.EXPOSED_GARBAGE)
    assert client.post(f"/api/v1/merchant/cases/{unconfirmed}/report-fixed", data={"note": "x"},
                       headers=world.auth("merchant_a")).status_code == 404
    photo = jpeg(color=(10, 200, 10))
    r = client.post(f"/api/v1/merchant/cases/{a}/report-fixed", data={"note": "moved the tables inside"},
                    files={"photo": ("../../../evil name.jpg", photo, "image/jpeg")}, headers=world.auth("merchant_a"))
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "merchant_reported_fixed"
    detail = client.get(f"/api/v1/merchant/cases/{a}", headers=world.auth("merchant_a")).json()
    assert detail["evidence"][-1]["file_name"] == "evil_name.jpg"
    ev_url = detail["evidence"][-1]["url"]
    assert client.get(ev_url, headers=world.auth("merchant_a")).content == photo
    assert client.get(ev_url.replace("/merchant/", "/merchant/"), headers=world.auth("merchant_b")).status_code == 404
    history = client.get("/api/v1/merchant/history", headers=world.auth("merchant_a")).json()
    assert {h["case_id"] for h in history} if history and "case_id" in history[0] else True
    assert all(h["actor"] in ("city", f"merchant:{world.merchant_a}") for h in history)
    # Reporting twice is an illegal transition.
    again = client.post(f"/api/v1/merchant/cases/{a}/report-fixed", data={"note": "again"},
                        headers=world.auth("merchant_a"))
    assert again.status_code == 409
    # A revoked link stops working.
    client.post(f"/api/v1/merchants/{world.merchant_a}/links/revoke", headers=world.auth("operator"))
    assert client.get("/api/v1/merchant/cases", headers=world.auth("merchant_a")).status_code == 401


def test_optimistic_locking_two_concurrent_actions_one_wins(client, world):
    cid = new_case(client, world)
    version = client.get(f"/api/v1/cases/{cid}", headers=world.auth("operator")).json()["version"]
    barrier = threading.Barrier(2)
    results: dict[str, int] = {}

    def go(action: str, who: str) -> None:
        barrier.wait()
        results[action] = act(client, world, cid, action, who=who, version=version).status_code

    threads = [threading.Thread(target=go, args=("confirm", "operator")),
               threading.Thread(target=go, args=("reject", "supervisor"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == [200, 409], results
    detail = client.get(f"/api/v1/cases/{cid}", headers=world.auth("operator")).json()
    transitions = [e for e in detail["events"] if e["action"] in ("confirm", "reject")]
    assert len(transitions) == 1  # the loser left nothing behind


def test_keyset_pagination_filters_and_bulk(client, world):
    ids = [new_case(client, world, minutes_ago=i * 150) for i in range(7)]  # apart: no attaching
    ids += [new_case(client, world, zone=world.zone_b, minutes_ago=1)]
    seen: list[int] = []
    cursor = None
    while True:
        params = {"camera": world.cam_a, "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/cases", params=params, headers=world.auth("operator")).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids[:7][::-1]  # newest first, each exactly once
    asc = client.get("/api/v1/cases", params={"road": world.road, "sort": "created_at", "limit": 500},
                     headers=world.auth("operator")).json()["items"]
    assert [c["id"] for c in asc] == ids
    by_seen = client.get("/api/v1/cases", params={"camera": world.cam_a, "sort": "-last_seen_at", "limit": 2},
                         headers=world.auth("operator")).json()
    page2 = client.get("/api/v1/cases", params={"camera": world.cam_a, "sort": "-last_seen_at", "limit": 2,
                                                "cursor": by_seen["next_cursor"]}, headers=world.auth("operator")).json()
    assert [c["id"] for c in by_seen["items"] + page2["items"]] == ids[:4]
    assert client.get("/api/v1/cases", params={"cursor": "garbage"}, headers=world.auth("operator")).status_code == 422
    r = client.post("/api/v1/cases/bulk/confirm", json={"case_ids": [*ids[:3], 999999999]},
                    headers=world.auth("operator")).json()
    assert r["done"] == ids[:3] and "999999999" in r["failed"]
    r = client.post("/api/v1/cases/bulk/reject", json={"case_ids": ids[2:5]}, headers=world.auth("operator")).json()
    assert r["done"] == ids[3:5] and list(r["failed"]) == [str(ids[2])]
    by_state = client.get("/api/v1/cases", params={"camera": world.cam_a, "state": ["rejected"]},
                          headers=world.auth("operator")).json()["items"]
    assert sorted(c["id"] for c in by_state) == sorted(ids[3:5])
    merchant_b = client.get("/api/v1/cases", params={"merchant": world.merchant_b},
                            headers=world.auth("operator")).json()["items"]
    assert [c["id"] for c in merchant_b] == [ids[7]]
    # Claim / assign.
    assert client.post(f"/api/v1/cases/{ids[5]}/claim", headers=world.auth("operator")).json()["assignee"]
    assert client.post(f"/api/v1/cases/{ids[5]}/claim", headers=world.auth("supervisor")).status_code == 409
    mine = client.get("/api/v1/cases", params={"assignee": "me"}, headers=world.auth("operator")).json()["items"]
    assert [c["id"] for c in mine] == [ids[5]]
    r = client.post(f"/api/v1/cases/{ids[5]}/assign", json={"username": f"supervisor-{world.tag}"},
                    headers=world.auth("supervisor"))
    assert r.json()["assignee"] == f"supervisor-{world.tag}"


def test_auto_confirm_above_threshold(database_url):
    from fastapi.testclient import TestClient

    from api.main import create_app

    app = create_app(api_settings(database_url, auto_confirm_threshold=0.9))
    with TestClient(app) as c:
        world = make_world(app)
        low = new_case(c, world, confidence=0.5)
        high = new_case(c, world, category=Category.EXPOSED_GARBAGE, confidence=0.95)
        states = {cid: c.get(f"/api/v1/cases/{cid}", headers=world.auth("operator")).json()["state"]
                  for cid in (low, high)}
    app.state.engine.dispose()
    assert states == {low: "detected", high: "notified"}


def test_fix_report_is_verified_at_once_when_camera_already_sees_clear(client, world):
    from detector.events import EventType

    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
    cid = post_event(client, world.tokens["edge_x"], event(world.cam_a, world.zone_a, started_at=t0)).json()["case_id"]
    act(client, world, cid, "confirm")
    cleared = event(world.cam_a, world.zone_a, type=EventType.CLEARED, seq=1, started_at=t0,
                    ended_at=t0 + timedelta(minutes=5))
    assert post_event(client, world.tokens["edge_x"], cleared).json()["state"] == "notified"  # not yet reported
    r = client.post(f"/api/v1/merchant/cases/{cid}/report-fixed", data={"note": "done"}, headers=world.auth("merchant_a"))
    assert r.json()["state"] == "closed"
    detail = client.get(f"/api/v1/cases/{cid}", headers=world.auth("operator")).json()
    assert detail["self_rectified"] and detail["events"][-2]["actor"] == f"camera:{world.cam_a}"


def test_retention_purge_drops_old_evidence_of_closed_cases(database_url):
    from fastapi.testclient import TestClient

    from api.main import create_app

    app = create_app(api_settings(database_url, retention_days=1))
    with TestClient(app) as c:
        world = make_world(app)
        frame = jpeg()
        from apikit import evidence_ref

        ev = event(world.cam_a, world.zone_a, evidence=[evidence_ref("f.jpg", frame)])
        body = post_event(c, world.tokens["edge_x"], ev, files={"f.jpg": ("f.jpg", frame, "image/jpeg")}).json()
        cid, evidence_id = body["case_id"], body["evidence_ids"][0]
        open_case = new_case(c, world, zone=world.zone_b, confidence=0.7)
        act(c, world, cid, "reject")
        c.post("/api/v1/admin/clock", json={"advance_s": 2 * 86400}, headers=world.auth("admin"))
        c.post("/api/v1/admin/scheduler/run", headers=world.auth("admin"))
        assert c.get(f"/api/v1/evidence/{evidence_id}", headers=world.auth("operator")).status_code == 410
        detail = c.get(f"/api/v1/cases/{cid}", headers=world.auth("operator")).json()
        assert detail["evidence"][0]["purged"] and detail["evidence"][0]["url"] is None
        assert c.get(f"/api/v1/cases/{open_case}", headers=world.auth("operator")).status_code == 200
    app.state.engine.dispose()
