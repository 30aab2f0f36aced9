"""The RTSP end-to-end test: real GStreamer RTSP server -> ``frontage edge`` -> real HTTP receiver.

The server serves 60 s of the PETS 2009 campus clip (../shared), in which two vehicles stay parked at
the top right; the COCO YOLOv8n int8 model with a test class map (car/truck -> disorderly_parking) sees
them. Once the episode has been reported, the server is SIGKILLed and restarted mid-stream; the edge must
reconnect (its metrics say so, and frames flow again) and still report the episode exactly once.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers.receiver import EventReceiver, free_port
from tests.helpers.rtsp_server import RtspServer, rtsp_server_available

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.rtsp, pytest.mark.slow]

ZONES = """\
camera: cam-rtsp
defaults: {dwell_s: 3, clear_s: 120, grace_s: 3}
zones:
  - id: parking
    kind: parking
    polygon: [[0.8, 0.0], [1.0, 0.0], [1.0, 0.25], [0.8, 0.25]]
    forbid: [disorderly_parking]
"""
CARS = "model: coco-cars\ndefault: ignore\nclasses: {car: disorderly_parking, truck: disorderly_parking}\n"


def metric(port: int, name: str) -> float:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return -1.0
    m = re.search(rf"^{name}\{{camera=\"cam-rtsp\"\}} ([0-9.e+]+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def wait_for(cond, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.2)
    return False


def test_rtsp_kill_restart_reports_episode_once(shared_dir: Path, tmp_path: Path) -> None:
    ok, why = rtsp_server_available()
    if not ok:
        if os.environ.get("FRONTAGE_REQUIRE_RTSP", "") not in ("", "0", "false"):
            pytest.fail(why)
        pytest.skip(why)
    clip = tmp_path / "campus.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(shared_dir / "videos" / "pets2009_campus_480x360.avi"),
                    "-t", "60", "-c:v", "libx264", "-g", "10", "-bf", "0", "-pix_fmt", "yuv420p", str(clip)], check=True)
    (tmp_path / "zones.yaml").write_text(ZONES)
    (tmp_path / "cars.classes.yaml").write_text(CARS)
    metrics_port = free_port()
    receiver = EventReceiver().start()
    server = RtspServer(clip).start()
    (tmp_path / "edge.yaml").write_text(f"""\
service_url: {receiver.url}
device_id: box-rtsp
device_key: k
model: {{path: {shared_dir / "models" / "yolov8n-coco-int8.onnx"}}}
classes: cars.classes.yaml
gating: {{enabled: false}}
cameras: [{{id: cam-rtsp, url: "{server.url}", zones: zones.yaml, analysis_fps: 1}}]
outbox: out/outbox.db
evidence_dir: out/evidence
clip_s: 0
metrics_port: {metrics_port}
""")
    log = (tmp_path / "edge.log").open("w")
    edge = subprocess.Popen([sys.executable, "-m", "detector", "edge", "--config", str(tmp_path / "edge.yaml")],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        assert wait_for(lambda: len(receiver.unique_keys) >= 1, 120), (tmp_path / "edge.log").read_text()[-3000:]
        assert receiver.events()[0]["type"] == "violation_started"
        before = metric(metrics_port, "frontage_frames_analysed_total")
        server.kill()  # the camera/NVR crashes mid-stream
        time.sleep(2)
        server.start()  # and comes back on the same URL; the stream starts over
        assert wait_for(lambda: metric(metrics_port, "frontage_camera_reconnects_total") >= 1, 90)
        after_restart = metric(metrics_port, "frontage_frames_analysed_total")
        assert wait_for(lambda: metric(metrics_port, "frontage_frames_analysed_total") >= after_restart + 5, 90), \
            (tmp_path / "edge.log").read_text()[-3000:]
        assert after_restart >= before
        edge.send_signal(signal.SIGTERM)
        assert edge.wait(60) == 0
    finally:
        if edge.poll() is None:
            edge.kill()
        server.kill()
        receiver.stop()
        log.close()
    text = (tmp_path / "edge.log").read_text()
    assert "Traceback" not in text
    started = [p for p in receiver.posts if p.event["type"] == "violation_started"]
    assert len(started) == 1, [p.event["type"] for p in receiver.posts]
    assert [e["type"] for e in receiver.events()] == ["violation_started"]  # no clear across the outage
