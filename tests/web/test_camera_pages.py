"""The camera pages in a real browser (issue 16 items 1-2): an edge device sends a camera's health and a clean
frame of a real sample clip over HTTP; the zone editor draws on that picture; the cameras page shows the
health, the picture's time, and the offline alert once the edge reports it is stopping (what ``frontage
edge`` sends on SIGTERM: tests/api/test_camera_health_edge.py shows the real process doing it).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import av
import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from api.db.models import Camera, Case, EdgeDevice
from api.db.session import session_scope
from api.services.registration import apply_zones, create_device
from detector.zones.schema import parse_zones
from tests.web.conftest import WebServer, login

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


def street_frame() -> bytes:
    with av.open(str(ROOT / "sample_videos" / "corner-shops-dusk.mp4")) as container:
        frame = next(f for f in container.decode(video=0) if f.time is not None and f.time >= 2.0)
        buf = io.BytesIO()
        frame.to_image().save(buf, "JPEG", quality=85)
        return buf.getvalue()


@pytest.fixture()
def own_camera(web_server: WebServer):  # type: ignore[no-untyped-def]
    """A camera and device of this test alone, removed afterwards (the other page tests count the cameras)."""
    code = "cam-health-09"
    yield code
    with session_scope(web_server.app.state.session_factory) as s:
        camera = s.scalar(select(Camera).where(Camera.code == code))
        for case in s.scalars(select(Case).where(Case.camera_id == (camera.id if camera else -1))):
            s.delete(case)
        s.flush()
        for row in (camera,
                    s.scalar(select(EdgeDevice).where(EdgeDevice.name == "edge-health-09"))):
            if row is not None:
                s.delete(row)


def _corner_camera_with_its_edge(web_server: WebServer, code: str) -> tuple[int, str]:
    """The test's camera with one pavement zone (z-corner) and an edge device that owns it: (camera id, edge key)."""
    now = datetime.now(UTC)
    with session_scope(web_server.app.state.session_factory) as s:
        apply_zones(s, parse_zones({"camera": code, "zones": [
            {"id": "z-corner", "kind": "sidewalk", "polygon": [[0.1, 0.6], [0.5, 0.6], [0.5, 0.95], [0.1, 0.95]],
             "forbid": ["exposed_garbage"]}]}), now, camera_name="拐角店铺", road="解放路")
        _, key = create_device(s, "edge-health-09", [code], now)
    with session_scope(web_server.app.state.session_factory) as s:
        return s.scalar(select(Camera.id).where(Camera.code == code)), key


def test_zone_editor_shows_the_real_picture_and_cameras_page_the_health(context, web_server: WebServer, own_camera: str,
                                                                        artifacts_dir: Path) -> None:
    code = own_camera
    camera_id, key = _corner_camera_with_its_edge(web_server, code)
    picture = street_frame()
    edge = httpx.Client(base_url=web_server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    health = {"online": True, "last_frame_age_s": 0.5, "analysis_fps": 1.0, "decode_errors": 0, "reconnects": 1,
              "model_name": "frontage-n", "model_version": "3.1", "report_every_s": 60}
    assert edge.put(f"/api/v1/device/cameras/{code}/health", json=health).status_code == 200
    r = edge.put(f"/api/v1/device/cameras/{code}/picture", content=picture,
                 headers={"Content-Type": "image/jpeg", "X-Taken-At": "2026-12-01T09:30:00Z"})
    assert r.status_code == 201, r.text
    width = r.json()["width"]

    page = context.new_page()
    login(page, "op", next_path=f"/cameras/{camera_id}/zones")
    snapshot = page.locator("#zone-snapshot")
    expect(snapshot).to_be_visible()
    page.wait_for_function("() => document.querySelector('#zone-snapshot').complete")
    assert snapshot.evaluate("img => img.naturalWidth") == width  # the street itself, not a grey placeholder
    expect(page.locator("#zone-picture-time")).to_contain_text("2026-12-01 09:30:00")
    expect(page.locator("#zone-svg g.zone")).to_have_count(1)
    page.screenshot(path=str(artifacts_dir / "zone-editor-real-picture.png"), full_page=True)

    page.goto("/cameras")
    card = page.locator("article.camera", has_text=code)
    expect(card.locator(".camera-health")).to_have_attribute("data-status", "online")
    expect(card.locator(".camera-health")).to_contain_text("frontage-n 3.1")
    expect(card.locator(".camera-picture-time")).to_contain_text("2026-12-01 09:30:00")
    expect(card.locator(".camera-alert")).to_have_count(0)
    assert card.locator("img").evaluate("img => img.naturalWidth") == width

    # the edge stops: its last report says the camera is offline; the operator sees the alert
    assert edge.put(f"/api/v1/device/cameras/{code}/health",
                    json=health | {"online": False, "last_error": "edge stopped"}).status_code == 200
    page.reload()
    card = page.locator("article.camera", has_text=code)
    expect(card.locator(".camera-health")).to_have_attribute("data-status", "offline")
    expect(card.locator(".camera-alert")).to_have_attribute("data-alert", "offline")
    expect(card.locator(".camera-alert")).to_contain_text("摄像头离线")
    page.screenshot(path=str(artifacts_dir / "cameras-offline-alert.png"), full_page=True)
    edge.close()


def test_reject_remember_and_forget_in_the_console(context, web_server: WebServer, own_camera: str,
                                                   artifacts_dir: Path) -> None:
    """The operator rejects with "remember this object"; the zone editor shows it on the real picture; an
    admin deletes it there."""
    import hashlib

    from detector.categories import Category
    from detector.events import (
        EventDetection,
        EventType,
        EvidenceKind,
        EvidenceRef,
        ModelInfo,
        ViolationEvent,
    )

    code = own_camera
    camera_id, key = _corner_camera_with_its_edge(web_server, code)
    picture = street_frame()
    edge = httpx.Client(base_url=web_server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert edge.put(f"/api/v1/device/cameras/{code}/picture", content=picture,
                    headers={"Content-Type": "image/jpeg"}).status_code == 201
    now = datetime.now(UTC).replace(microsecond=0)
    ref = EvidenceRef(name="raw", kind=EvidenceKind.RAW, content_type="image/jpeg",
                      sha256=hashlib.sha256(picture).hexdigest(), size=len(picture))
    event = ViolationEvent.for_episode(
        type=EventType.STARTED, seq=0, camera=code, zone="z-corner", category=Category.EXPOSED_GARBAGE,
        started_at=now, observed_at=now, confidence=0.7,
        model=ModelInfo(name="frontage-n", version="test"), evidence=[ref], frame_size=(960, 540),
        detections=[EventDetection(class_name="trash_bag", category=Category.EXPOSED_GARBAGE, score=0.7,
                                   box=[0.2, 0.7, 0.3, 0.9])])
    r = edge.post("/api/v1/events", data={"event": event.model_dump_json()},
                  files={"raw": ("raw.jpg", picture, "image/jpeg")})
    assert r.status_code in (200, 201), r.text
    case_id = r.json()["case_id"]
    edge.close()

    page = context.new_page()
    login(page, "op", next_path=f"/cases/{case_id}")
    page.check("#case-remember")
    page.click("button[data-action=reject]")
    expect(page.locator(".flash")).to_contain_text("已记住 1 个物体")

    admin = context.browser.new_context(base_url=web_server.base_url, locale="zh-CN")
    editor = admin.new_page()
    login(editor, "admin", next_path=f"/cameras/{camera_id}/zones")
    expect(editor.locator("#known-svg rect.known-object")).to_have_count(1)
    expect(editor.locator("#known-list li")).to_contain_text(f"#{case_id}")
    editor.screenshot(path=str(artifacts_dir / "zone-editor-known-object.png"), full_page=True)
    editor.click("#known-list li button")
    expect(editor.locator("#known-svg rect.known-object")).to_have_count(0)
    admin.close()


def test_accept_a_proposed_fixture(context, web_server: WebServer, own_camera: str, artifacts_dir: Path) -> None:
    """Commissioning: the edge's health report proposes a static object; the zone editor shows it on the real
    picture; one click makes it a known object (nothing was suppressed before)."""
    code = own_camera
    camera_id, key = _corner_camera_with_its_edge(web_server, code)
    edge = httpx.Client(base_url=web_server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert edge.put(f"/api/v1/device/cameras/{code}/picture", content=street_frame(),
                    headers={"Content-Type": "image/jpeg"}).status_code == 201
    proposal = {"id": "p-z-corner-120-exposed", "zone": "z-corner", "category": "exposed_garbage",
                "class_name": "trash_bag", "box": [0.2, 0.7, 0.3, 0.9], "static_s": 1800}
    r = edge.put(f"/api/v1/device/cameras/{code}/health", json={"online": True, "proposals": [proposal]})
    assert r.status_code == 200, r.text
    assert edge.put(f"/api/v1/device/cameras/{code}/health",
                    json={"online": True, "proposals": [proposal | {"box": [0.5, 0.5, 0.2, 0.9]}]}).status_code == 422
    assert edge.put(f"/api/v1/device/cameras/{code}/health", json={"online": True, "proposals": [proposal]}).status_code == 200

    page = context.new_page()
    login(page, "admin", next_path=f"/cameras/{camera_id}/zones")
    expect(page.locator("#known-svg rect.proposed-object")).to_have_count(1)
    expect(page.locator("#known-svg rect.known-object")).to_have_count(0)
    page.screenshot(path=str(artifacts_dir / "zone-editor-proposal.png"), full_page=True)
    page.click("#proposal-list li button")
    expect(page.locator("#known-svg rect.known-object")).to_have_count(1)
    expect(page.locator("#known-svg rect.proposed-object")).to_have_count(0)
    # the edge keeps listing it: it stays accepted, not proposed again
    assert edge.put(f"/api/v1/device/cameras/{code}/health", json={"online": True, "proposals": [proposal]}).status_code == 200
    r = edge.get(f"/api/v1/device/cameras/{code}/zones.yaml")
    assert "p-z-corner-120-exposed" in r.text
    page.reload()
    expect(page.locator("#known-svg rect.proposed-object")).to_have_count(0)
    edge.close()
