"""Camera faults seen by the real ``frontage edge`` process (real GStreamer RTSP servers, the real COCO model,
the edge's own Prometheus /metrics as the only window into it):

* one RTSP server is SIGKILLed and restarted on the same port;
* one RTSP server freezes (SIGSTOP: the TCP connection stays open, no data) and later thaws (SIGCONT);
* one "camera" is a TCP server that answers with garbage bytes;
* one healthy camera.

Each broken camera is marked unhealthy (``frontage_camera_healthy`` 0) and reconnects with backoff (not a busy
loop); the killed and frozen ones come back healthy by themselves; the garbage one never crashes the edge; and
the healthy camera keeps being analysed during the faults at about the rate it had before them.

Component-level RTSP behaviour (keyframe skipping, unreachable and silent servers) is tests/edge/test_rtsp.py.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from relkit import ROOT, EdgeProcess, free_port, wait_for

from tests.helpers import rtsp_server as rtsp_helpers
from tests.helpers.rtsp_server import RtspServer

rtsp_clip = rtsp_helpers.rtsp_clip  # session fixture: a 60 s 320x240 H.264 clip
pytestmark = [pytest.mark.rtsp, pytest.mark.slow]
ZONES = """\
camera: {camera}
zones:
  - id: z-1
    kind: sidewalk
    polygon: [[0.0, 0.9], [0.05, 0.9], [0.05, 1.0], [0.0, 1.0]]
    forbid: [street_vending]
"""


class GarbageServer:
    """Accepts TCP connections and answers each with random bytes, then closes it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(16)
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        rng = random.Random(5)
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with contextlib.suppress(OSError), conn:
                conn.sendall(b"RTSP/9.9 garbage\r\n" + rng.randbytes(4096))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def scrape(port: int) -> dict[tuple[str, str], float]:
    """(metric, camera) -> value from the edge's /metrics."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    out: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if "camera" in sample.labels:
                out[(sample.name, sample.labels["camera"])] = sample.value
    return out


def test_camera_faults_leave_the_other_cameras_alone(rtsp_clip: Path, coco_model: Path, tmp_path: Path) -> None:
    killed, frozen, good = RtspServer(rtsp_clip), RtspServer(rtsp_clip), RtspServer(rtsp_clip)
    garbage = GarbageServer()
    metrics_port = free_port()
    cams = {"cam-good": good.url, "cam-killed": killed.url, "cam-frozen": frozen.url,
            "cam-garbage": f"rtsp://127.0.0.1:{garbage.port}/cam"}
    for cam in cams:
        (tmp_path / f"{cam}.zones.yaml").write_text(ZONES.format(camera=cam))
    lines = "\n".join(f"  - {{id: {c}, url: '{u}', zones: {c}.zones.yaml, analysis_fps: 2}}" for c, u in cams.items())
    (tmp_path / "edge.yaml").write_text(
        f"service_url: http://127.0.0.1:{free_port()}\ndevice_id: edge-cams\nmodel: {{path: {coco_model}}}\n"
        f"classes: {ROOT / 'models' / 'coco.classes.yaml'}\ngating: {{enabled: false}}\ncameras:\n{lines}\n"
        f"outbox: outbox.db\nevidence_dir: evidence\nclip_s: 0\nmetrics_port: {metrics_port}\n")
    edge = EdgeProcess(tmp_path / "edge.yaml", tmp_path / "edge.log", "no-service-key")
    m: dict[tuple[str, str], float] = {}

    def metric(name: str, cam: str) -> float:
        return m.get((name, cam), 0.0)

    def refresh() -> dict[tuple[str, str], float]:
        nonlocal m
        with contextlib.suppress(httpx.HTTPError):
            m = scrape(metrics_port)
        return m

    def analysed(cam: str) -> float:
        return refresh().get(("frontage_frames_analysed_total", cam), 0.0)

    try:
        for server in (killed, frozen, good):
            server.start()
        edge.start()
        assert wait_for(lambda: refresh() and all(metric("frontage_camera_healthy", c) == 1
                                                  for c in ("cam-good", "cam-killed", "cam-frozen")), 120, 0.5), (
            m, edge.log()[-3000:])
        assert wait_for(lambda: analysed("cam-good") >= 4, 60, 0.5)
        refresh()
        assert metric("frontage_camera_healthy", "cam-garbage") == 0 and garbage.connections >= 1

        # Baseline rate of the healthy camera.
        t0, n0 = time.monotonic(), analysed("cam-good")
        time.sleep(8)
        baseline = (analysed("cam-good") - n0) / (time.monotonic() - t0)
        assert baseline > 0

        # Faults: one server killed, one frozen.
        killed.kill()
        assert frozen.proc is not None
        os.kill(frozen.proc.pid, signal.SIGSTOP)
        t1, n1 = time.monotonic(), analysed("cam-good")
        assert wait_for(lambda: refresh() and metric("frontage_camera_healthy", "cam-killed") == 0
                        and metric("frontage_camera_healthy", "cam-frozen") == 0, 30, 0.5), m
        assert wait_for(lambda: refresh() and metric("frontage_camera_reconnects_total", "cam-frozen") >= 1, 30, 0.5)
        time.sleep(max(0.0, 10 - (time.monotonic() - t1)))
        during = (analysed("cam-good") - n1) / (time.monotonic() - t1)
        assert metric("frontage_camera_healthy", "cam-good") == 1
        print(f"cam-good analysis rate: {baseline:.2f}/s before the faults, {during:.2f}/s during them")
        # The healthy camera keeps its analysis rate (generous margin: the machine is shared).
        assert during >= 0.6 * baseline, (during, baseline)

        # Recovery: the killed server restarts on the same port, the frozen one thaws.
        killed.start()
        os.kill(frozen.proc.pid, signal.SIGCONT)
        assert wait_for(lambda: refresh() and metric("frontage_camera_healthy", "cam-killed") == 1
                        and metric("frontage_camera_healthy", "cam-frozen") == 1, 60, 0.5), (m, edge.log()[-3000:])
        before = {c: metric("frontage_frames_analysed_total", c) for c in ("cam-killed", "cam-frozen")}
        assert wait_for(lambda: refresh() and all(metric("frontage_frames_analysed_total", c) > before[c]
                                                  for c in before), 30, 0.5)

        # The garbage camera: still unhealthy, retried with backoff (capped at 30 s), never fatal.
        refresh()
        elapsed = time.monotonic() - t0
        assert metric("frontage_camera_healthy", "cam-garbage") == 0
        reconnects = metric("frontage_camera_reconnects_total", "cam-garbage")
        assert 1 <= reconnects <= elapsed + 10, (reconnects, elapsed)  # not a busy loop
        assert edge.proc is not None and edge.proc.poll() is None, edge.log()[-3000:]
        log = edge.log()
        assert "Traceback" not in log, log[-3000:]
        assert "cam-garbage" in log  # its failure is reported, by name
    finally:
        edge.stop()
        if frozen.proc is not None and frozen.proc.poll() is None:
            os.kill(frozen.proc.pid, signal.SIGCONT)
        for server in (killed, frozen, good):
            server.kill()
        garbage.close()
