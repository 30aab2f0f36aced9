"""False-positive memory end to end (issue 16 item 3): the real case service (uvicorn) and the real edge process
(``frontage edge``, shipped model) playing the first 40 s of ``market-street-day`` as a looped real-time
camera. The goods display in z-m-0548 opens a case; the operator rejects it over HTTP with "remember this
object"; the edge takes the zones file with the known object from the service (``health.zones_from_service``)
without a restart, and when the clip plays again (the display gone for 12 s at the loop, then back) no new
case opens for it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml
from apikit import ThreadServer, api_settings, make_world
from sqlalchemy import func, select

from api.db.models import Camera, Case
from api.main import create_app

ROOT = Path(__file__).resolve().parents[2]


def cases_of(app, code: str) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    with app.state.session_factory() as s:
        return list(s.execute(select(Case.id, Case.state).join(Camera, Camera.id == Case.camera_id)
                              .where(Camera.code == code).order_by(Case.id)).all())


def test_remembered_object_opens_no_case_when_the_clip_plays_again(database_url, tmp_path: Path) -> None:
    clip = tmp_path / "market-40s.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(ROOT / "sample_videos" / "market-street-day.mp4"),
                    "-t", "40", "-c", "copy", str(clip)], check=True)
    app = create_app(api_settings(database_url))
    with ThreadServer(app) as server:
        world = make_world(app)
        zones = yaml.safe_load((ROOT / "sample_videos" / "market-street-day.zones.yaml").read_text())
        zones["camera"] = world.cam_a
        zones["zones"] = [z | {"dwell_s": 3.0, "clear_s": 1.0} for z in zones["zones"] if z["id"] == "z-m-0548"]
        zones["zones"][0]["merchant"] = world.merchant_a
        admin = httpx.Client(base_url=server.url, headers=world.auth("admin"), timeout=10)
        assert admin.put(f"/api/v1/cameras/{world.cam_a}/zones", content=yaml.safe_dump(zones)).status_code == 200
        (tmp_path / "zones.yaml").write_text(yaml.safe_dump(zones))
        (tmp_path / "edge.yaml").write_text(f"""\
service_url: {server.url}
device_id: {world.device_x}
device_key: {world.tokens["edge_x"]}
model: {{path: {ROOT / "models" / "frontage-n.onnx"}}}
model_check_s: 1
cameras:
  - {{id: {world.cam_a}, url: {clip}, zones: zones.yaml, analysis_fps: 2, realtime: true, loop: true}}
outbox: out/outbox.db
evidence_dir: out/evidence
health: {{report_every_s: 1, picture_every_s: 600, zones_from_service: true}}
""")
        env = os.environ | {"YOLO_OFFLINE": "1", "YOLO_AUTOINSTALL": "False"}
        proc = subprocess.Popen([sys.executable, "-m", "detector", "edge", "--config", str(tmp_path / "edge.yaml")],
                                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        op = httpx.Client(base_url=server.url, headers=world.auth("operator"), timeout=10)
        try:
            deadline = time.monotonic() + 60
            while not cases_of(app, world.cam_a):
                assert time.monotonic() < deadline and proc.poll() is None, "no case opened"
                time.sleep(0.5)
            started = time.monotonic()
            ((case_id, _),) = cases_of(app, world.cam_a)
            assert op.post(f"/api/v1/cases/{case_id}/actions/reject", json={}).status_code == 200
            r = op.post(f"/api/v1/cases/{case_id}/remember-object", json={"note": "licensed display"})
            assert r.status_code == 200 and r.json()["known_objects"], r.text
            # the clip loops every 40 s; the display is out 12-40 s of each pass: watch the next pass through
            time.sleep(max(0.0, 55 - (time.monotonic() - started)))
            assert proc.poll() is None, "the edge stopped"
        finally:
            proc.send_signal(signal.SIGTERM)
            output = proc.communicate(timeout=60)[0]
        assert "zones file updated from the service" in output, output[-3000:]
        assert "zones reloaded" in output, output[-3000:]
        assert cases_of(app, world.cam_a) == [(case_id, "rejected")], output[-3000:]
        with app.state.session_factory() as s:
            assert s.scalar(select(func.count()).select_from(Case)) >= 1
    app.state.engine.dispose()
