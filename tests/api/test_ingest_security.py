"""Ingest security and bad input: a device touches only its own cameras' episodes and cases, idempotency
keys are scoped to the device, a reused key with other data is a 409, and every malformed value is a 4xx
(alone and inside a batch), on SQLite and PostgreSQL (real service over HTTP, no mocks)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from apikit import event, post_event

from detector.events import EventType

BATCH = "/api/v1/events/batch"


def case_detail(client: Any, world: Any, case_id: int) -> dict[str, Any]:
    return client.get(f"/api/v1/cases/{case_id}", headers=world.auth("operator")).json()


def act(client: Any, world: Any, case_id: int, action: str) -> None:
    r = client.post(f"/api/v1/cases/{case_id}/actions/{action}", json={}, headers=world.auth("operator"))
    assert r.status_code == 200, r.text


def test_a_device_cannot_clear_another_cameras_case_by_its_episode_id(client, world):
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    theirs = event(world.cam_b, world.zone_b, started_at=t0)
    case_b = post_event(client, world.tokens["edge_y"], theirs).json()["case_id"]
    act(client, world, case_b, "confirm")
    act(client, world, case_b, "report_fixed")  # a camera "clear" would now verify and close it
    # edge_x reports for cam_a only; it sends a clear on its own camera that names cam_b's episode
    forged = event(world.cam_a, world.zone_a, type=EventType.CLEARED, seq=1, started_at=t0,
                   ended_at=t0 + timedelta(minutes=1)).model_copy(update={"episode_id": theirs.episode_id})
    r = post_event(client, world.tokens["edge_x"], forged)
    assert r.status_code in (200, 201), r.text
    assert r.json()["case_id"] != case_b  # an episode of cam_a (its own), not cam_b's
    detail = case_detail(client, world, case_b)
    assert detail["state"] == "merchant_reported_fixed"
    assert detail["camera_cleared_at"] is None
    assert not [e for e in detail["events"] if e["actor"] == f"device:{world.device_x}"]


def test_a_key_of_another_cameras_future_event_cannot_be_squatted(client, world):
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    future = event(world.cam_b, world.zone_b, started_at=t0)  # its key is computable from public facts
    squat = event(world.cam_a, world.zone_a, started_at=t0).model_copy(
        update={"idempotency_key": future.idempotency_key})
    assert post_event(client, world.tokens["edge_x"], squat).status_code == 201
    real = post_event(client, world.tokens["edge_y"], future)
    assert real.status_code == 201, real.text
    assert real.json()["created"] and not real.json()["duplicate"]
    items = client.get("/api/v1/cases", params={"camera": world.cam_b}, headers=world.auth("operator")).json()
    assert [c["id"] for c in items["items"]] == [real.json()["case_id"]]


def test_replaying_another_devices_key_reveals_nothing_of_its_case(client, world):
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    theirs = event(world.cam_b, world.zone_b, started_at=t0)
    case_b = post_event(client, world.tokens["edge_y"], theirs).json()
    replay = event(world.cam_a, world.zone_a, started_at=t0).model_copy(
        update={"idempotency_key": theirs.idempotency_key})
    single = post_event(client, world.tokens["edge_x"], replay).json()
    assert single["created"] and not single["duplicate"] and single["case_id"] != case_b["case_id"]
    # in a batch the same: its own earlier event answers (its own case), never edge_y's
    batched = client.post(BATCH, json={"events": [replay.model_dump(mode="json")]},
                          headers=world.auth("edge_x")).json()["results"][0]
    assert batched["duplicate"] and batched["case_id"] == single["case_id"]
    # the key's own device still gets its repeat answered as a repeat
    again = post_event(client, world.tokens["edge_y"], theirs).json()
    assert again["duplicate"] and again["case_id"] == case_b["case_id"]


def test_a_used_key_with_other_data_is_409_and_changes_nothing(client, world):
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    first = event(world.cam_a, world.zone_a, started_at=t0, confidence=0.6)
    case_id = post_event(client, world.tokens["edge_x"], first).json()["case_id"]
    changed = first.model_copy(update={"confidence": 0.99})
    r = post_event(client, world.tokens["edge_x"], changed)
    assert r.status_code == 409, r.text
    assert first.idempotency_key in r.json()["detail"] and "different" in r.json()["detail"]
    batch = client.post(BATCH, json={"events": [changed.model_dump(mode="json"), first.model_dump(mode="json")]},
                        headers=world.auth("edge_x")).json()["results"]
    assert [(x["status"], x["duplicate"]) for x in batch] == [(409, False), (200, True)]
    assert "different" in batch[0]["error"] and batch[0]["case_id"] is None
    assert case_detail(client, world, case_id)["confidence"] == 0.6


def _good(world: Any, minutes: int) -> dict[str, Any]:
    t = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes)
    return event(world.cam_a, world.zone_a, started_at=t).model_dump(mode="json")


def _box_infinity(ev: dict[str, Any]) -> str:
    ev["detections"] = [{"class_name": "person", "category": "out_of_store_trading", "score": 0.9,
                         "box": [0.1, 0.1, 0.5, 1.0]}]
    return json.dumps(ev).replace("1.0]", "Infinity]")


#: (name, how to spoil a good event, words the 422 must name). Each used to be a 500 on PostgreSQL
#: (NUL in text, integer out of range, datetime overflow on conversion to UTC, Infinity in JSON).
BAD_EVENTS = [
    ("nul-in-key", lambda ev: json.dumps({**ev, "idempotency_key": ev["idempotency_key"] + "\u0000x"}),
     "idempotency_key"),
    ("nul-in-camera", lambda ev: json.dumps({**ev, "camera": ev["camera"] + "\u0000"}), "camera"),
    ("nul-in-zone", lambda ev: json.dumps({**ev, "zone": "\u0000"}), "zone"),
    ("seq-2^63", lambda ev: json.dumps({**ev, "seq": 2**63}), "seq"),
    ("seq-2^31", lambda ev: json.dumps({**ev, "seq": 2**31}), "seq"),
    ("year-1-with-offset", lambda ev: json.dumps({**ev, "started_at": "0001-01-01T00:00:00+05:00"}), "started_at"),
    ("year-9999-with-offset", lambda ev: json.dumps({**ev, "observed_at": "9999-12-31T23:00:00-05:00"}),
     "observed_at"),
    ("infinity-in-box", _box_infinity, "box"),
]


@pytest.mark.parametrize(("spoil", "field"), [(b[1], b[2]) for b in BAD_EVENTS], ids=[b[0] for b in BAD_EVENTS])
def test_bad_values_are_422_alone_and_one_bad_event_does_not_sink_its_batch(client, world, spoil, field):
    bad = spoil(_good(world, 20))
    r = client.post("/api/v1/events", content=bad, headers={**world.auth("edge_x"),
                                                             "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("invalid event") and field in r.json()["detail"]
    good = _good(world, 5)
    body = '{"events": [' + bad + "," + json.dumps(good) + "]}"
    r = client.post(BATCH, content=body, headers={**world.auth("edge_x"), "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == [422, 201]
    assert field in results[0]["error"]
    assert case_detail(client, world, results[1]["case_id"])["camera"] == world.cam_a


def test_case_creation_is_the_workflows_entry_transition(client, world):
    from api.workflow import INITIAL_STATE, Workflow

    r = post_event(client, world.tokens["edge_x"], event(world.cam_a, world.zone_a))
    assert r.status_code == 201 and r.json()["state"] == INITIAL_STATE.value
    (created,) = case_detail(client, world, r.json()["case_id"])["events"]
    assert (created["action"], created["from_state"], created["to_state"]) == ("created", None, INITIAL_STATE.value)
    assert callable(Workflow.create_case)


def test_migration_0003_gives_existing_episodes_their_camera(database_kind, tmp_path):
    """Rows written before 0003 (global keys) come through it: each episode gets its case's camera, the
    keys their device, and the way back down works while the data still fits the old uniques."""
    import os
    import uuid

    from sqlalchemy import create_engine, text

    from api.db.migrate import downgrade, upgrade

    cleanup = None
    if database_kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'm.db'}"
    else:
        import psycopg

        base = os.environ.get("FRONTAGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
        raw = base.replace("postgresql+psycopg://", "postgresql://")
        schema = f"mig3_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(raw, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"

        def cleanup() -> None:
            with psycopg.connect(raw, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    try:
        upgrade(url, "0002")
        engine = create_engine(url)
        t = "2026-05-01 10:00:00"
        with engine.begin() as conn:
            conn.execute(text(f"INSERT INTO cameras (id, code, name, active, created_at) "
                              f"VALUES (7, 'cam-x', 'x', true, '{t}')"))
            conn.execute(text("INSERT INTO zones (id, camera_id, code, kind, polygon, forbid) "
                              "VALUES (3, 7, 'z', 'storefront', '[]', '[]')"))
            conn.execute(text(f"INSERT INTO edge_devices (id, name, key_prefix, key_hash, active, created_at) "
                              f"VALUES (5, 'd', 'p', 'h', true, '{t}')"))
            conn.execute(text(
                "INSERT INTO cases (id, version, state, category, camera_id, zone_id, confidence, escalation_level,"
                " max_escalation_level, self_rectified, first_seen_at, last_seen_at, created_at, updated_at) "
                f"VALUES (11, 1, 'detected', 'x', 7, 3, 0.5, 0, 0, false, '{t}', '{t}', '{t}', '{t}')"))
            conn.execute(text("INSERT INTO episodes (id, episode_id, case_id, started_at, last_observed_at, last_seq,"
                              f" max_confidence) VALUES (1, 'ep-1', 11, '{t}', '{t}', 0, 0.5)"))
            conn.execute(text("INSERT INTO ingested_events (idempotency_key, case_id, episode_id, type, seq, device_id,"
                              f" observed_at, received_at, payload) VALUES ('k-1', 11, 'ep-1', 't', 0, 5, '{t}', "
                              f"'{t}', '{{}}')"))
        engine.dispose()
        upgrade(url)
        engine = create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT episode_id, camera_id FROM episodes")).all() == [("ep-1", 7)]
            assert conn.execute(text("SELECT idempotency_key, device_id FROM ingested_events")).all() == [("k-1", 5)]
        engine.dispose()
        downgrade(url, "0002")
        upgrade(url)
    finally:
        if cleanup is not None:
            cleanup()
