"""False-positive memory through the service (issue 16 item 3): an operator rejects a case and says "not a
violation here - remember this object" over HTTP; the zone gets the episode's objects (box, class, colour
signature from the clean evidence frame) as known objects; the edge fetches the zones file with them
(ETag), and the same file makes the edge's analyser drop that object while a new one in its place counts.
SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import numpy as np
import yaml
from apikit import event, evidence_ref, post_event
from PIL import Image

from detector.categories import Category
from detector.events import EventDetection, EvidenceKind
from detector.zones.known import known_mask
from detector.zones.schema import parse_zones

BOX = [0.15, 0.6, 0.3, 0.85]  # normalised, inside zone_a


def street(colour: tuple[int, int, int]) -> tuple[np.ndarray, bytes]:
    """A 320x240 frame (RGB) with an object of ``colour`` in BOX, and its PNG bytes (lossless)."""
    img = np.full((240, 320, 3), 120, np.uint8)
    img[int(0.6 * 240):int(0.85 * 240), int(0.15 * 320):int(0.3 * 320)] = colour
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG")
    return img, buf.getvalue()


def test_reject_and_remember_then_the_edge_gets_it(client, world) -> None:  # type: ignore[no-untyped-def]
    rgb, raw = street((200, 40, 40))  # a red phone booth
    ev = event(world.cam_a, world.zone_a, started_at=datetime(2024, 3, 1, 9, tzinfo=UTC),
               evidence=[evidence_ref("raw", raw, EvidenceKind.RAW, "image/png")])
    ev = ev.model_copy(update={"detections": [EventDetection(class_name="goods_display", category=Category.OUT_OF_STORE_TRADING,
                                                             score=0.8, box=BOX)]})
    case_id = post_event(client, world.tokens["edge_x"], ev, files={"raw": ("raw.png", raw, "image/png")}).json()["case_id"]
    op = world.auth("operator")
    r = client.post(f"/api/v1/cases/{case_id}/remember-object", headers=op)
    assert r.status_code == 409 and "reject it first" in r.json()["detail"]
    assert client.post(f"/api/v1/cases/{case_id}/actions/reject", headers=op, json={}).status_code == 200
    r = client.post(f"/api/v1/cases/{case_id}/remember-object", headers=op, json={"note": "phone booth"})
    assert r.status_code == 200, r.text
    (known,) = r.json()["known_objects"]
    assert known["box"] == BOX and known["class_name"] == "goods_display" and known["note"] == "phone booth"
    assert known["case"] == case_id and len(known["signature"]) == 64
    again = client.post(f"/api/v1/cases/{case_id}/remember-object", headers=op)  # twice: nothing new
    assert len(again.json()["known_objects"]) == 1
    assert client.post(f"/api/v1/cases/{case_id}/remember-object", headers=world.auth("enforcement")).status_code == 403

    # the edge fetches its camera's zones file: the known object travels with the zones
    edge = world.auth("edge_x")
    r = client.get(f"/api/v1/device/cameras/{world.cam_a}/zones.yaml", headers=edge)
    assert r.status_code == 200
    zones = parse_zones(yaml.safe_load(r.text))
    zone = next(z for z in zones.zones if z.id == world.zone_a)
    assert [k.id for k in zone.known_objects] == [f"k-{case_id}-0"]
    assert client.get(f"/api/v1/device/cameras/{world.cam_a}/zones.yaml",
                      headers=edge | {"If-None-Match": r.headers["etag"]}).status_code == 304
    assert client.get(f"/api/v1/device/cameras/{world.cam_a}/zones.yaml", headers=world.auth("edge_y")).status_code == 403

    # what the edge's analyser does with that file: the same booth is dropped, a new (blue) object counts
    frame_bgr = rgb[..., ::-1]
    w, h = 320, 240
    px = np.array([[BOX[0] * w, BOX[1] * h, BOX[2] * w, BOX[3] * h]], np.float32)
    cats, names = np.array(["out_of_store_trading"], dtype=object), np.array(["goods_display"], dtype=object)
    assert known_mask(px, cats, names, zone.known_objects, (w, h), frame_bgr)[0]
    blue = street((40, 40, 200))[0][..., ::-1]
    assert not known_mask(px, cats, names, zone.known_objects, (w, h), blue)[0]
