"""Ingest: idempotency, attach window, device/camera authorization, unknown camera/zone, upload limits."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from apikit import event, evidence_ref, jpeg, png, post_event
from PIL import Image

from detector.categories import Category
from detector.events import EventType, EvidenceKind


def test_bare_json_event_creates_case_and_repeat_is_idempotent(client, world):
    ev = event(world.cam_a, world.zone_a)
    first = post_event(client, world.tokens["edge_x"], ev)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["created"] and body["state"] == "detected"
    again = post_event(client, world.tokens["edge_x"], ev)
    assert again.status_code == 200
    assert again.json()["case_id"] == body["case_id"] and again.json()["duplicate"]
    detail = client.get(f"/api/v1/cases/{body['case_id']}", headers=world.auth("operator")).json()
    assert [e["action"] for e in detail["events"]] == ["created"]  # the repeat added nothing


def test_episode_events_stay_on_one_case_and_new_episode_attaches_within_window(client, world):
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    start = event(world.cam_a, world.zone_a, started_at=t0)
    case_id = post_event(client, world.tokens["edge_x"], start).json()["case_id"]
    upd = event(world.cam_a, world.zone_a, type=EventType.UPDATED, seq=1, started_at=t0, confidence=0.95)
    r = post_event(client, world.tokens["edge_x"], upd)
    assert r.status_code == 200 and r.json()["case_id"] == case_id
    # A new episode 30 min later (inside the 1 h window): same case.
    later = event(world.cam_a, world.zone_a, started_at=t0 + timedelta(minutes=30))
    r = post_event(client, world.tokens["edge_x"], later)
    assert r.status_code == 200 and r.json()["case_id"] == case_id and r.json()["attached"]
    # Another category in the same zone: its own case.
    other = event(world.cam_a, world.zone_a, category=Category.EXPOSED_GARBAGE, started_at=t0)
    assert post_event(client, world.tokens["edge_x"], other).json()["case_id"] != case_id
    # Two hours after the last sighting (outside the window): a new case.
    far = event(world.cam_a, world.zone_a, started_at=t0 + timedelta(minutes=30 + 120))
    r = post_event(client, world.tokens["edge_x"], far)
    assert r.status_code == 201 and r.json()["case_id"] != case_id
    detail = client.get(f"/api/v1/cases/{case_id}", headers=world.auth("operator")).json()
    assert detail["confidence"] == 0.95
    assert "episode_attached" in [e["action"] for e in detail["events"]]


def test_device_reports_only_for_its_cameras_and_unknown_targets_are_422(client, world):
    ev = event(world.cam_b, world.zone_b)
    r = post_event(client, world.tokens["edge_x"], ev)
    assert r.status_code == 403 and world.cam_b in r.json()["detail"]
    assert post_event(client, world.tokens["edge_y"], ev).status_code == 201
    r = post_event(client, world.tokens["edge_x"], event("no-such-cam", "z"))
    assert r.status_code == 422 and "unknown camera 'no-such-cam'" in r.json()["detail"]
    r = post_event(client, world.tokens["edge_x"], event(world.cam_a, "z-nope"))
    assert r.status_code == 422 and "unknown zone 'z-nope'" in r.json()["detail"]
    r = client.post("/api/v1/events", content=b"{not json", headers={
        **world.auth("edge_x"), "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"].startswith("invalid event")
    # Staff and merchant tokens are not edge keys; no token at all is 401.
    assert post_event(client, world.tokens["operator"], ev).status_code == 403
    assert client.post("/api/v1/events", json={}).status_code == 401


def test_multipart_evidence_is_stored_and_served(client, world):
    frame, crop = jpeg(), png()
    ev = event(world.cam_a, world.zone_a, evidence=[
        evidence_ref("frame.jpg", frame), evidence_ref("crop.png", crop, EvidenceKind.CROP, "image/png")])
    r = post_event(client, world.tokens["edge_x"], ev, files={
        "frame.jpg": ("../../etc/frame.jpg", frame, "image/jpeg"), "crop.png": ("crop.png", crop, "image/png")})
    assert r.status_code == 201, r.text
    detail = client.get(f"/api/v1/cases/{r.json()['case_id']}", headers=world.auth("operator")).json()
    names = sorted(e["file_name"] for e in detail["evidence"])
    assert names == ["crop.png", "frame.jpg"]  # the path part of "../../etc/frame.jpg" is gone
    got = client.get(detail["evidence"][0]["url"], headers=world.auth("operator"))
    assert got.status_code == 200 and got.content in (frame, crop)
    assert client.get(detail["evidence"][0]["url"], headers=world.auth("merchant_b")).status_code == 403


def test_upload_limits(client, world, app):
    def send(name: str, data: bytes, declared: str = "image/jpeg", filename: str = "f.jpg"):
        ev = event(world.cam_a, world.zone_a, evidence=[evidence_ref(name, data, content_type=declared)],
                   started_at=datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=len(data) % 1000))
        return post_event(client, world.tokens["edge_x"], ev, files={name: (filename, data, declared)})

    too_big = jpeg() + b"\0" * (app.state.settings.evidence_max_bytes + 1)
    r = send("big.jpg", too_big)
    assert r.status_code == 413 and "limit" in r.json()["detail"]
    r = send("fake.jpg", b"MZ\x90\x00this is an executable" * 10)
    assert r.status_code == 415 and "not a JPEG" in r.json()["detail"]
    r = send("liar.jpg", png(), declared="image/jpeg")
    assert r.status_code == 415 and "content is image/png" in r.json()["detail"]
    # Decompression bomb: a tiny PNG that claims 10000x10000 pixels.
    buf = io.BytesIO()
    Image.new("1", (10000, 10000)).save(buf, "PNG")
    bomb = buf.getvalue()
    assert len(bomb) < 100_000
    r = send("bomb.png", bomb, declared="image/png", filename="bomb.png")
    assert r.status_code == 413 and "decompression" in r.json()["detail"]
    # A part name outside the contract's pattern is refused by the event schema itself.
    ev = event(world.cam_a, world.zone_a).model_dump(mode="json")
    ev["evidence"] = [{"name": "../x", "kind": "frame", "content_type": "image/jpeg", "sha256": "0" * 64, "size": 1}]
    import json

    r = client.post("/api/v1/events", data={"event": json.dumps(ev)}, files={"../x": ("x", jpeg(), "image/jpeg")},
                    headers=world.auth("edge_x"))
    assert r.status_code == 422 and "evidence" in r.json()["detail"]
    # Nothing was stored for any refused upload: the cases list of this zone stays empty.
    page = client.get("/api/v1/cases", params={"camera": world.cam_a}, headers=world.auth("operator")).json()
    assert page["items"] == []
