"""Camera health and pictures over HTTP (issue 16 items 1-2): an edge device reports a camera's health and
sends clean frames of a real sample clip; staff read them in ``/api/v1/cameras`` and the console; a covered
lens, a camera knocked off its angle and an edge that stops reporting raise alerts into the notification
outbox; bad input is a clear 4xx.

Real parts: the service app on SQLite and PostgreSQL, frames decoded from ``sample_videos/`` with PyAV.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import av
import pytest
from apikit import api_settings, jpeg, make_world
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from api.clock import Clock
from api.db.models import Notification
from api.main import create_app
from api.scheduler import run_pass

ROOT = Path(__file__).resolve().parents[2]
CLIP = ROOT / "sample_videos" / "market-street-day.mp4"


def frames(*seconds: float) -> list[Image.Image]:
    out = []
    with av.open(str(CLIP)) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and seconds and frame.time >= seconds[0]:
                out.append(frame.to_image())
                seconds = seconds[1:]
            if not seconds:
                break
    return out


def as_jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=85)
    return buf.getvalue()


@pytest.fixture()
def service(database_url):  # type: ignore[no-untyped-def]
    clock = Clock()  # this test's own clock: it is moved forward without touching other tests' app
    app = create_app(api_settings(database_url), clock=clock)
    with TestClient(app) as client:
        yield client, make_world(app), app, clock
    app.state.engine.dispose()


def report(client, world, cam: str, **fields):  # type: ignore[no-untyped-def]
    body = {"online": True, "last_frame_age_s": 0.4, "analysis_fps": 0.98, "decode_errors": 1, "reconnects": 2,
            "model_name": "frontage-n", "model_version": "3.1", "report_every_s": 60} | fields
    return client.put(f"/api/v1/device/cameras/{cam}/health", json=body, headers=world.auth("edge_x"))


def put_picture(client, world, cam: str, data: bytes, who: str = "edge_x", **headers):  # type: ignore[no-untyped-def]
    return client.put(f"/api/v1/device/cameras/{cam}/picture", content=data,
                      headers=world.auth(who) | {"Content-Type": "image/jpeg"} | headers)


def web_login(client, world) -> None:  # type: ignore[no-untyped-def]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
    r = client.post("/login", data={"username": f"operator-{world.tag}", "password": "correct horse battery",
                                    "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code in (302, 303), r.text


def alerts(app, cam: str) -> list[str]:  # type: ignore[no-untyped-def]
    with app.state.session_factory() as s:
        return [n.kind for n in s.scalars(select(Notification).order_by(Notification.id))
                if n.case_id is None and n.payload.get("camera") == cam]


def test_health_and_picture_shown_to_staff(service) -> None:  # type: ignore[no-untyped-def]
    client, world, app, _ = service
    first, later = frames(1.0, 20.0)
    staff = world.auth("operator")
    cam = next(c for c in client.get("/api/v1/cameras", headers=staff).json() if c["code"] == world.cam_a)
    assert cam["health"]["status"] == "unknown" and cam["health"]["picture"] is None

    r = report(client, world, world.cam_a)
    assert r.status_code == 200 and r.json() == {"picture_requested": False}
    r = put_picture(client, world, world.cam_a, as_jpeg(first), **{"X-Taken-At": "2026-05-01T10:00:00Z"})
    assert r.status_code == 201, r.text
    assert r.json()["reference"] is True and r.json()["width"] == first.width
    r = put_picture(client, world, world.cam_a, as_jpeg(later))  # people moved, same street: no alert
    assert r.status_code == 201 and r.json()["reference"] is False

    health = client.get(f"/api/v1/cameras/{world.cam_a}", headers=staff).json()["health"]
    assert health["status"] == "online" and health["alert"] is None
    assert health["analysis_fps"] == 0.98 and health["decode_errors"] == 1 and health["reconnects"] == 2
    assert health["model_name"] == "frontage-n" and health["model_version"] == "3.1"
    assert health["view_score"] > 0.8, health
    assert health["picture"]["width"] == first.width
    assert alerts(app, world.cam_a) == []

    picture = client.get(f"/api/v1/cameras/{world.cam_a}/picture", headers=staff)
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
    assert picture.content == as_jpeg(later)
    # the console: the zone editor draws on the real picture, the cameras page shows its time and the health
    camera_id = cam["id"]
    web_login(client, world)
    assert client.get(f"/cameras/{camera_id}/snapshot").content == as_jpeg(later)
    editor = client.get(f"/cameras/{camera_id}/zones")
    assert editor.status_code == 200 and f'data-width="{first.width}"' in editor.text
    assert 'id="zone-picture-time"' in editor.text
    page = client.get("/cameras").text
    assert 'data-status="online"' in page and "camera-picture-time" in page

    # an operator asks for a fresh picture: the edge's next report is told so, until a picture arrives
    assert client.post(f"/api/v1/cameras/{world.cam_a}/picture-request", headers=staff).status_code == 202
    assert report(client, world, world.cam_a).json() == {"picture_requested": True}
    put_picture(client, world, world.cam_a, as_jpeg(later))
    assert report(client, world, world.cam_a).json() == {"picture_requested": False}


def test_view_changed_and_offline_alerts(service) -> None:  # type: ignore[no-untyped-def]
    client, world, app, clock = service
    (first,) = frames(1.0)
    report(client, world, world.cam_a)
    put_picture(client, world, world.cam_a, as_jpeg(first))
    w, h = first.size
    knocked = first.crop((w // 4, h // 4, w, h)).resize((w, h))  # the camera pointed elsewhere
    r = put_picture(client, world, world.cam_a, as_jpeg(knocked))
    assert r.status_code == 201
    health = client.get(f"/api/v1/cameras/{world.cam_a}/health", headers=world.auth("operator")).json()
    assert health["alert"] == "view_changed" and health["view_score"] < 0.5, health
    put_picture(client, world, world.cam_a, as_jpeg(first))  # put back: the alert clears
    covered = jpeg(first.width, first.height, (12, 12, 12))  # a covered lens: a black picture
    put_picture(client, world, world.cam_a, covered)
    assert alerts(app, world.cam_a) == ["camera_view_changed", "camera_recovered", "camera_view_changed"]

    # the edge says the camera is down: offline at once
    report(client, world, world.cam_a, online=False, last_error="rtsp://cam: connection refused")
    health = client.get(f"/api/v1/cameras/{world.cam_a}/health", headers=world.auth("operator")).json()
    assert health["status"] == "offline" and health["alert"] == "offline"
    assert health["last_error"] == "rtsp://cam: connection refused"
    report(client, world, world.cam_a)
    # the edge goes silent: three report intervals later the scheduler raises the offline alert
    clock.advance(179)
    run_pass(app.state.session_factory, app.state.settings, clock.now)
    assert alerts(app, world.cam_a)[-1] == "camera_recovered"
    clock.advance(2)
    run_pass(app.state.session_factory, app.state.settings, clock.now)
    assert alerts(app, world.cam_a)[-1] == "camera_offline"
    web_login(client, world)
    assert 'data-alert="offline"' in client.get("/cameras").text


def test_bad_reports_are_refused(service) -> None:  # type: ignore[no-untyped-def]
    client, world, _, _ = service
    ok = jpeg(64, 48)
    assert put_picture(client, world, world.cam_b, ok).status_code == 403  # cam_b is device y's
    assert put_picture(client, world, "no-such-cam", ok).status_code == 404
    assert put_picture(client, world, world.cam_a, b"not an image").status_code == 415
    assert put_picture(client, world, world.cam_a, b"").status_code == 422
    assert put_picture(client, world, world.cam_a, ok, **{"X-Taken-At": "yesterday"}).status_code == 422
    assert put_picture(client, world, world.cam_a, ok, **{"X-Taken-At": "2026-05-01T10:00:00"}).status_code == 422
    assert put_picture(client, world, world.cam_a, ok, who="operator").status_code == 403
    assert put_picture(client, world, world.cam_a, ok, who="anonymous").status_code == 401
    assert report(client, world, world.cam_a, decode_errors=-1).status_code == 422
    assert report(client, world, world.cam_a, surprise=1).status_code == 422
    r = client.put(f"/api/v1/device/cameras/{world.cam_a}/health", content=b"{", headers=world.auth("edge_x"))
    assert r.status_code == 422
    assert client.get(f"/api/v1/cameras/{world.cam_b}/picture", headers=world.auth("operator")).status_code == 404
    assert client.get(f"/api/v1/cameras/{world.cam_a}/health", headers=world.auth("edge_x")).status_code == 403
    assert client.get(f"/api/v1/cameras/{world.cam_a}/health").status_code == 401


@pytest.mark.parametrize("clip", ["market-street-day", "corner-shops-dusk", "rainy-lane", "busy-pavement-overcast"])
def test_view_likeness_tells_a_moved_camera_from_a_busy_street(clip: str) -> None:
    from PIL import ImageEnhance

    from api.services.cameras import VIEW_CHANGED_BELOW, view_likeness

    with av.open(str(ROOT / "sample_videos" / f"{clip}.mp4")) as container:
        shots = [f.to_image() for f in container.decode(video=0) if f.time is not None and round(f.time * 25) % 500 == 25][:4]
    reference = shots[0]
    w, h = reference.size
    for later in [*shots[1:], ImageEnhance.Brightness(shots[2]).enhance(0.5)]:  # people moved; dusk falls
        assert view_likeness(as_jpeg(reference), as_jpeg(later)) >= VIEW_CHANGED_BELOW
    shifted = reference.crop((w // 20, 0, w, h)).resize((w, h))  # turned by 5 % of the picture's width
    assert view_likeness(as_jpeg(reference), as_jpeg(shifted)) < VIEW_CHANGED_BELOW
