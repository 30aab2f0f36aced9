"""Batch ingest (POST /api/v1/events/batch): per-event results, one bad event loses nothing, repeats, limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from apikit import ThreadServer, api_settings, event, evidence_ref, jpeg, make_world, post_event

from api.main import create_app
from detector.categories import Category
from detector.events import EventType
from detector.uplink import Outbox, Sender
from detector.uplink.config import UplinkConfig

BATCH = "/api/v1/events/batch"


def post_batch(client: Any, token: str, events: list[Any]) -> Any:
    return client.post(BATCH, json={"events": events}, headers={"Authorization": f"Bearer {token}"})


def dump(ev) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return ev.model_dump(mode="json")


def test_mixed_batch_gives_each_event_its_own_result(client, world):
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    earlier = event(world.cam_a, world.zone_a, category=Category.EXPOSED_GARBAGE, started_at=t0)
    first = post_event(client, world.tokens["edge_x"], earlier)
    assert first.status_code == 201
    good = event(world.cam_a, world.zone_a, started_at=t0)
    update = event(world.cam_a, world.zone_a, type=EventType.UPDATED, seq=1, started_at=t0, confidence=0.93)
    invalid = dump(event(world.cam_a, world.zone_a, started_at=t0 + timedelta(minutes=5)))
    del invalid["camera"]
    frame = jpeg()
    with_evidence = event(world.cam_a, world.zone_free, started_at=t0, evidence=[evidence_ref("frame.jpg", frame)])
    events = [dump(good), invalid, dump(event(world.cam_b, world.zone_b, started_at=t0)),  # cam_b: not edge_x's
              dump(event(world.cam_a, "z-nope", started_at=t0)), dump(with_evidence), dump(update),
              dump(good),  # the same event twice in one batch
              dump(earlier), 42]  # a repeat of an event sent alone earlier; not even an object
    r = post_batch(client, world.tokens["edge_x"], events)
    assert r.status_code == 200, r.text
    body = r.json()
    got = [(x["index"], x["status"]) for x in body["results"]]
    assert got == [(0, 201), (1, 422), (2, 403), (3, 422), (4, 422), (5, 200), (6, 200), (7, 200), (8, 422)]
    res = body["results"]
    assert body["accepted"] == 4 and body["refused"] == 5
    assert res[0]["created"] and res[0]["idempotency_key"] == good.idempotency_key and res[0]["state"] == "detected"
    assert res[1]["error"] == "invalid event: camera: Field required"
    assert res[1]["idempotency_key"] == invalid["idempotency_key"] and res[1]["case_id"] is None
    assert world.cam_b in res[2]["error"] and "unknown zone 'z-nope'" in res[3]["error"]
    assert "multipart" in res[4]["error"]
    assert res[5]["case_id"] == res[0]["case_id"] and not res[5]["duplicate"]
    assert res[6]["case_id"] == res[0]["case_id"] and res[6]["duplicate"]
    assert res[7]["duplicate"] and res[7]["case_id"] == first.json()["case_id"]
    assert res[8]["idempotency_key"] is None and "invalid event" in res[8]["error"]
    detail = client.get(f"/api/v1/cases/{res[0]['case_id']}", headers=world.auth("operator")).json()
    assert detail["confidence"] == 0.93  # the update in the same batch applied
    assert [e["action"] for e in detail["events"]] == ["created"]
    # Nothing of the refused events was stored: cam_b has no case, the evidence event opened none.
    assert client.get("/api/v1/cases", params={"camera": world.cam_b},
                      headers=world.auth("operator")).json()["items"] == []
    zones = {c["zone"] for c in client.get("/api/v1/cases", params={"camera": world.cam_a},
                                            headers=world.auth("operator")).json()["items"]}
    assert zones == {world.zone_a}


def test_resending_a_batch_repeats_its_answers_and_the_single_endpoint_agrees(client, world):
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    events = [dump(event(world.cam_a, world.zone_a, category=cat, started_at=t0))
              for cat in (Category.OUT_OF_STORE_TRADING, Category.STACKED_MATERIALS)]
    first = post_batch(client, world.tokens["edge_x"], events).json()["results"]
    assert [x["status"] for x in first] == [201, 201]
    again = post_batch(client, world.tokens["edge_x"], events).json()["results"]
    assert [(x["status"], x["duplicate"], x["case_id"]) for x in again] == [
        (200, True, first[0]["case_id"]), (200, True, first[1]["case_id"])]
    single = client.post("/api/v1/events", json=events[1], headers=world.auth("edge_x"))
    assert single.status_code == 200 and single.json()["case_id"] == first[1]["case_id"]
    # A new episode 10 minutes later attaches to the open case, as it would alone.
    later = event(world.cam_a, world.zone_a, started_at=t0 + timedelta(minutes=10))
    res = post_batch(client, world.tokens["edge_x"], [dump(later)]).json()["results"][0]
    assert res["attached"] and res["case_id"] == first[0]["case_id"]


def test_batch_auth_and_limits(client, world):
    ev = dump(event(world.cam_a, world.zone_a))
    assert client.post(BATCH, json={"events": [ev]}).status_code == 401
    assert post_batch(client, world.tokens["operator"], [ev]).status_code == 403
    assert post_batch(client, world.tokens["merchant_a"], [ev]).status_code == 403
    assert client.post(BATCH, json={"events": [ev]}, headers={"Authorization": "Bearer fe_unknown"}).status_code == 401
    too_many = post_batch(client, world.tokens["edge_x"], [ev] * 101)
    assert too_many.status_code == 422 and "at most 100" in str(too_many.json()["detail"])
    assert post_batch(client, world.tokens["edge_x"], []).status_code == 422
    not_a_batch = client.post(BATCH, json=[ev], headers=world.auth("edge_x"))
    assert not_a_batch.status_code == 422
    broken = client.post(BATCH, content=b'{"events": [', headers={**world.auth("edge_x"),
                                                                   "Content-Type": "application/json"})
    assert broken.status_code == 422
    # None of the refused batches stored the event.
    assert client.get("/api/v1/cases", params={"camera": world.cam_a},
                      headers=world.auth("operator")).json()["items"] == []


def test_batch_is_in_the_openapi_with_its_models(app):
    spec = app.openapi()
    op = spec["paths"]["/api/v1/events/batch"]["post"]
    assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/EventBatchPublic")
    body = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    events = spec["components"]["schemas"][body]["properties"]["events"]
    item = events["items"]  # the ViolationEvent schema (inlined: SkipValidation wraps it)
    assert events["maxItems"] == 100 and {"idempotency_key", "camera", "zone", "evidence"} <= set(item["properties"])
    assert "error" in spec["components"]["schemas"]["EventResultPublic"]["properties"]


def test_edge_uplink_delivers_batches_to_the_real_service(database_url, tmp_path):
    """The edge Sender against this service over HTTP: a backlog goes in batches, a refused event is parked."""
    app = create_app(api_settings(database_url))
    with ThreadServer(app) as server:
        w = make_world(app)
        t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
        box = Outbox(tmp_path / "outbox.db")
        events = [event(w.cam_a, w.zone_a, category=cat, started_at=t0) for cat in Category]
        events.append(event(w.cam_b, w.zone_b, started_at=t0))  # not this device's camera: refused for good
        events.append(event(w.cam_a, w.zone_a, type=EventType.UPDATED, seq=1, started_at=t0, confidence=0.9))
        for ev in events:
            box.put(ev)
        sender = Sender(box, server.url, w.tokens["edge_x"], UplinkConfig(retry_initial_s=0.05, retry_max_s=0.3),
                        poll_s=0.2)
        sender.start()
        try:
            assert sender.drain(30)
        finally:
            sender.stop()
        assert sender.batches == 1 and sender.batching()
        assert box.counts() == {"pending": 0, "sent": len(events) - 1, "dead": 1}
        ((key, reason),) = box.dead()
        assert key == events[-2].idempotency_key and reason.startswith("HTTP 403")
        with_token = {"Authorization": f"Bearer {w.tokens['operator']}"}
        items = httpx.get(server.url + "/api/v1/cases", params={"camera": w.cam_a}, headers=with_token).json()["items"]
        assert sorted(c["category"] for c in items) == sorted(c.value for c in Category)
    app.state.engine.dispose()
