"""Privacy-safe evidence on SQLite and PostgreSQL: a generated street frame (the project's synthetic still,
with scripted people) goes in as an edge event carrying the edge's own person boxes; the merchant's view of
it has no unblurred head (pixels inside each person's head box compared with the original), the violation
object is left as it was, staff get the original byte for byte and each such view is logged; crops stay
with staff; retention deletes closed cases' evidence once the service clock has moved past it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest
from apikit import api_settings, event, evidence_ref, make_world
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.db.models import Evidence, EvidenceAccess
from api.services.privacy import HEAD_SHARE
from detector.categories import Category
from detector.detections import Detections
from detector.events import EventDetection, EvidenceKind, ViolationEvent
from detector.evidence.privacy import privacy_boxes
from detector.synth.stills import random_labeled_frame

W, H = 960, 540


def _scene() -> tuple[np.ndarray, np.ndarray, list[np.ndarray], np.ndarray]:
    """A synthetic still with people, an e-bike and stacked materials (the violation); returns the image,
    the violation box and the person boxes (seed 103 places two people away from the violation)."""
    frame = random_labeled_frame(103, 0, size=(W, H))
    names = list(frame.class_names)
    cart = frame.xyxy[names.index("stacked_materials")]
    people = [b for n, b in zip(names, frame.xyxy, strict=True) if n == "person"]
    assert people, "the scripted scene must hold a person"
    return frame.image, cart, people, frame.xyxy[names.index("e_bike")]


def _jpeg(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    return data.tobytes()


def _decode(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


def _head(box: np.ndarray) -> tuple[slice, slice]:
    x1, y1, x2, y2 = (int(v) for v in box)
    return slice(y1, y1 + int((y2 - y1) * HEAD_SHARE)), slice(x1, x2)


def _detail(region: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(region, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def _post(client, world, *, with_boxes: bool, frame: bytes, crop: bytes, cart: np.ndarray,  # type: ignore[no-untyped-def]
          people: list[np.ndarray], bike: np.ndarray) -> tuple[int, list[int]]:
    base = event(world.cam_a, world.zone_a, category=Category.STACKED_MATERIALS,
                 evidence=[evidence_ref("frame", frame), evidence_ref("crop", crop, EvidenceKind.CROP)],
                 started_at=datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5 if with_boxes else 2))
    names = ("stacked_materials", "e_bike", *["person"] * len(people))
    dets = Detections(xyxy=np.array([cart, bike, *people], np.float32), confidence=np.full(len(names), 0.9, np.float32),
                      class_id=np.arange(len(names)), class_names=names)
    ev = ViolationEvent.model_validate({
        **base.model_dump(), "frame_size": (W, H),
        "detections": [EventDetection(class_name="stacked_materials", category=Category.STACKED_MATERIALS, score=0.9,
                                      box=[float(v) for v in cart / [W, H, W, H]])],
        "privacy_boxes": privacy_boxes(dets, own_xyxy=dets.xyxy[:1], frame_size=(W, H)) if with_boxes else None})
    r = client.post("/api/v1/events", data={"event": ev.model_dump_json()}, headers=world.auth("edge_x"),
                    files={"frame": ("frame.jpg", frame, "image/jpeg"), "crop": ("crop.jpg", crop, "image/jpeg")})
    assert r.status_code in (200, 201), r.text
    case_id = r.json()["case_id"]
    r = client.post(f"/api/v1/cases/{case_id}/actions/confirm", json={}, headers=world.auth("operator"))
    assert r.status_code == 200 and r.json()["case"]["state"] == "notified", r.text
    return case_id, r.json()["case"].get("evidence_ids") or []


@pytest.mark.parametrize("with_boxes", [True, False], ids=["edge-boxes", "no-boxes-fallback"])
def test_merchant_sees_no_face_staff_see_the_original(client, app, world, with_boxes):
    image, cart, people, bike = _scene()
    frame = _jpeg(image)
    x1, y1, x2, y2 = (int(v) for v in cart)
    crop = _jpeg(image[y1:y2, x1:x2])
    case_id, _ = _post(client, world, with_boxes=with_boxes, frame=frame, crop=crop, cart=cart, people=people,
                       bike=bike)

    seen = client.get(f"/api/v1/merchant/cases/{case_id}", headers=world.auth("merchant_a")).json()
    kinds = {e["kind"]: e for e in seen["evidence"]}
    assert set(kinds) == {"frame"}  # the crop is for staff only
    r = client.get(kinds["frame"]["url"], headers=world.auth("merchant_a"))
    assert r.status_code == 200 and r.headers["x-frontage-privacy"] == "blurred"
    merchant_view, original = _decode(r.content), _decode(frame)
    assert merchant_view.shape == original.shape
    checked = 0
    for person in people:
        rows, cols = _head(person)
        if not with_boxes and rows.start < y2 and rows.stop > y1 and cols.start < x2 and cols.stop > x1:
            continue  # without the edge's boxes the violation box is kept as it is, a head behind it too
        checked += 1
        before, after = _detail(original[rows, cols]), _detail(merchant_view[rows, cols])
        assert after < 0.15 * before, f"head {person} still sharp: detail {after:.1f} vs {before:.1f}"
    assert checked
    bx1, by1, bx2, by2 = (int(v) for v in bike)  # a plated vehicle (e-bike): its lower half is obscured
    plate = (slice((by1 + by2) // 2, by2), slice(bx1, bx2))
    assert _detail(merchant_view[plate]) < 0.15 * _detail(original[plate])
    cart_diff = np.abs(merchant_view[y1:y2, x1:x2].astype(int) - original[y1:y2, x1:x2].astype(int)).mean()
    assert cart_diff < 6, f"the violation object itself was changed ({cart_diff:.1f})"

    with app.state.session_factory() as s:
        rows = s.scalars(select(Evidence).where(Evidence.case_id == case_id).order_by(Evidence.id)).all()
        frame_row = next(e for e in rows if e.kind == "frame")
        crop_row = next(e for e in rows if e.kind == "crop")
    assert client.get(f"/api/v1/merchant/evidence/{crop_row.id}", headers=world.auth("merchant_a")).status_code == 404
    page = client.get(f"/m/{world.tokens['merchant_a']}/evidence/{frame_row.id}")
    assert page.status_code == 200 and page.headers["x-frontage-privacy"] == "blurred"

    staff = client.get(f"/api/v1/evidence/{frame_row.id}", headers=world.auth("operator"))
    assert staff.status_code == 200 and staff.content == frame  # the original, byte for byte
    with app.state.session_factory() as s:
        log = s.scalars(select(EvidenceAccess).where(EvidenceAccess.evidence_id == frame_row.id)).all()
    assert [(a.actor, a.via) for a in log] == [(f"user:operator-{world.tag}", "api")]


def test_retention_deletes_closed_cases_evidence_when_the_clock_passes(database_url):
    from api.main import create_app

    app = create_app(api_settings(database_url, retention_days=30.0,
                                  secret_key="privacy-test-session-key-0123456789"))
    with TestClient(app) as c:
        world = make_world(app)
        frame = _jpeg(_scene()[0])
        ids = {}
        for name, zone, minutes in (("closed", world.zone_a, 9), ("open", world.zone_free, 3)):
            ev = event(world.cam_a, zone, evidence=[evidence_ref("frame", frame)],
                       started_at=datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes))
            r = c.post("/api/v1/events", data={"event": ev.model_dump_json()}, headers=world.auth("edge_x"),
                       files={"frame": ("frame.jpg", frame, "image/jpeg")})
            assert r.status_code in (200, 201), r.text
            ids[name] = (r.json()["case_id"], r.json()["evidence_ids"][0])
        r = c.post(f"/api/v1/cases/{ids['closed'][0]}/actions/reject", json={"note": "test"},
                   headers=world.auth("operator"))
        assert r.status_code == 200, r.text

        def run_scheduler() -> None:
            assert c.post("/api/v1/admin/scheduler/run", headers=world.auth("admin")).status_code == 200

        run_scheduler()
        assert c.get(f"/api/v1/evidence/{ids['closed'][1]}", headers=world.auth("operator")).status_code == 200
        c.post("/api/v1/admin/clock", json={"advance_s": 31 * 86400}, headers=world.auth("admin"))
        run_scheduler()
        assert c.get(f"/api/v1/evidence/{ids['closed'][1]}", headers=world.auth("operator")).status_code == 410
        # The open case keeps its evidence however old: it is still being worked.
        assert c.get(f"/api/v1/evidence/{ids['open'][1]}", headers=world.auth("operator")).status_code == 200
        with app.state.session_factory() as s:
            row = s.get(Evidence, ids["closed"][1])
            assert row.data is None and row.purged_at is not None
    app.state.engine.dispose()
