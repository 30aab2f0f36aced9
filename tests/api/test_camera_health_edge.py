"""The real edge process against the real case service (uvicorn, SQLite/PostgreSQL): ``frontage edge`` plays a
sample clip as a looped real-time camera; the service gets the camera's health and a clean picture of it
(the zone editor's picture), and when the edge is stopped the cameras page shows the camera offline with
its alert in the notification outbox.

Real parts: the CLI in a subprocess, the shipped model through ONNX Runtime, ``sample_videos/``, HTTP.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from apikit import ThreadServer, api_settings, make_world
from PIL import Image
from sqlalchemy import select

from api.db.models import Notification
from api.main import create_app

ROOT = Path(__file__).resolve().parents[2]


def wait_for(what, fn, timeout: float = 90.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_edge_reports_health_and_picture_then_goes_offline(database_url, tmp_path: Path) -> None:
    app = create_app(api_settings(database_url))
    with ThreadServer(app) as server:
        world = make_world(app)
        (tmp_path / "zones.yaml").write_text(
            f"camera: {world.cam_a}\nzones:\n  - id: {world.zone_a}\n    kind: storefront\n"
            "    polygon: [[0.1, 0.5], [0.4, 0.5], [0.4, 0.9], [0.1, 0.9]]\n    forbid: [exposed_garbage]\n")
        (tmp_path / "edge.yaml").write_text(f"""\
service_url: {server.url}
device_id: {world.device_x}
device_key: {world.tokens["edge_x"]}
model: {{path: {ROOT / "models" / "frontage-n.onnx"}}}
cameras:
  - {{id: {world.cam_a}, url: {ROOT / "sample_videos" / "market-street-day.mp4"}, zones: zones.yaml,
      analysis_fps: 1, realtime: true, loop: true}}
outbox: out/outbox.db
health: {{report_every_s: 1, picture_every_s: 30}}
""")
        env = os.environ | {"YOLO_OFFLINE": "1", "YOLO_AUTOINSTALL": "False"}
        proc = subprocess.Popen([sys.executable, "-m", "detector", "edge", "--config", str(tmp_path / "edge.yaml")],
                                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        staff = world.auth("operator")
        http = httpx.Client(base_url=server.url, headers=staff, timeout=10)
        try:
            def health() -> dict:
                return http.get(f"/api/v1/cameras/{world.cam_a}").json()["health"]

            h = wait_for("a picture and an online report", lambda: (
                (x := health())["status"] == "online" and x["picture"] and x["analysis_fps"] is not None and x))
            assert h["model_name"] and h["alert"] is None and h["decode_errors"] == 0
            picture = http.get(f"/api/v1/cameras/{world.cam_a}/picture")
            with Image.open(io.BytesIO(picture.content)) as img:
                assert img.size == (h["picture"]["width"], h["picture"]["height"]) and img.width >= 640
            # the operator asks for a fresh picture: the edge sends one with its next report (not in 30 s)
            first_id = h["picture"]["id"]
            assert http.post(f"/api/v1/cameras/{world.cam_a}/picture-request").status_code == 202
            wait_for("the requested picture", lambda: health()["picture"]["id"] != first_id, timeout=30)
        finally:
            proc.send_signal(signal.SIGTERM)
            output = proc.communicate(timeout=60)[0]
        assert proc.returncode == 0, output[-3000:]
        h = http.get(f"/api/v1/cameras/{world.cam_a}").json()["health"]
        assert h["status"] == "offline" and h["alert"] == "offline" and h["last_error"] == "edge stopped"
        with app.state.session_factory() as s:
            kinds = [n.kind for n in s.scalars(select(Notification)) if n.payload.get("camera") == world.cam_a]
        assert kinds == ["camera_offline"], kinds
    app.state.engine.dispose()
