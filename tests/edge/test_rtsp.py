"""Live cameras against a real GStreamer RTSP server: keyframe skipping, a server killed and restarted,
unreachable and silent servers (timeouts, never a hang), and a file camera unaffected by an RTSP outage."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from pathlib import Path

import pytest

from detector import metrics
from detector.sources import SourceError, open_source
from detector.sources.live import LiveCamera
from tests.helpers import rtsp_server as rtsp_helpers
from tests.helpers.rtsp_server import RtspServer, free_port

# The shared fixtures (the end-to-end tests use them too): a generated H.264 clip and a server serving it.
rtsp_clip = rtsp_helpers.rtsp_clip
rtsp_server = rtsp_helpers.rtsp_server

pytestmark = pytest.mark.rtsp
FAST = dict(open_timeout_s=2.0, read_timeout_s=2.0, backoff_initial_s=0.2, backoff_max_s=1.0)


def _collect(cam: LiveCamera, seconds: float) -> list:
    frames, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        frame = cam.wait(timeout=max(0.0, end - time.monotonic()))
        if frame is not None:
            frames.append(frame)
    return frames


def _until(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_live_rtsp_keyframes_kill_and_reconnect(rtsp_server: RtspServer, tmp_path: Path) -> None:
    cam = LiveCamera(rtsp_server.url, "cam-rtsp", analysis_fps=1.0, **FAST).start()
    # A second camera, a file played at camera pace, must keep its rate whatever the RTSP camera does.
    other = LiveCamera(str(rtsp_server.file), "cam-file", analysis_fps=2.0, loop=True).start()
    try:
        assert cam.wait_healthy(15), cam.stats.last_error
        _until(lambda: cam.stats.keyframes_only, 8)
        assert cam.stats.keyframes_only and cam.stats.gop_s == pytest.approx(1.0, abs=0.05), cam.stats
        decoded_before = cam.stats.frames_decoded
        frames = _collect(cam, 3.0)
        # ~1 analysis/s of *media* time (wall-clock counts vary when the box is loaded: a stall is
        # followed by a burst, so the rate is checked on the frames' own timestamps)
        assert len(frames) >= 2
        gaps = [b.pts_s - a.pts_s for a, b in itertools.pairwise(frames)]
        assert all(0.8 <= g <= 2.2 for g in gaps), gaps
        # keyframes only: about one decoded frame per media second, not the stream's 10 fps
        span = frames[-1].pts_s - frames[0].pts_s
        assert cam.stats.frames_decoded - decoded_before <= span + 3, (cam.stats.frames_decoded - decoded_before, span)
        assert frames[0].image.shape == (240, 320, 3)

        rtsp_server.kill()
        assert _until(lambda: not cam.healthy, 5), "camera did not notice the dead server"
        assert "cam-rtsp" in (cam.stats.last_error or "")
        assert metrics.CAMERA_HEALTHY.labels("cam-rtsp")._value.get() == 0
        other_before = other.stats.frames_yielded
        during_outage = _collect(other, 3.0)
        assert len(during_outage) >= 4, "the file camera stalled while the RTSP camera was down"
        assert cam.latest() is None or not cam.healthy
        reconnects_while_down = cam.stats.reconnects
        assert 1 <= reconnects_while_down <= 8  # backoff: 0.2, 0.4, 0.8, 1, 1 ... not a busy loop
        assert other.stats.frames_yielded > other_before

        rtsp_server.start()  # same port
        assert cam.wait_healthy(15), cam.stats.last_error
        after = _collect(cam, 2.5)
        assert after and after[0].pts_s > frames[-1].pts_s  # media time keeps increasing across reconnects
        assert cam.stats.reconnects >= reconnects_while_down
        assert metrics.RECONNECTS.labels("cam-rtsp")._value.get() >= 1
    finally:
        cam.stop()
        other.stop()
    assert not cam.running and not other.running


def test_open_source_reads_rtsp_as_iterator(rtsp_server: RtspServer) -> None:
    src = open_source(rtsp_server.url, "cam-it", analysis_fps=2.0, **FAST)
    try:
        frames = []
        for frame in src.frames():
            frames.append(frame)
            if len(frames) == 3:
                break
        assert [f.index for f in frames] == sorted(f.index for f in frames)
        assert src.stats.healthy
    finally:
        src.close()


def test_unreachable_rtsp_fails_fast() -> None:
    url = f"rtsp://127.0.0.1:{free_port()}/cam"  # nothing listens there
    t0 = time.monotonic()
    with pytest.raises(SourceError, match=r"^cam-x: cannot open rtsp://127\.0\.0\.1:\d+/cam: connection refused$"):
        open_source(url, "cam-x", realtime=False, **FAST)
    assert time.monotonic() - t0 < 10
    cam = LiveCamera(url, "cam-y", **FAST).start()
    try:
        assert not cam.wait_healthy(1.0)
        assert _until(lambda: "connection refused" in (cam.stats.last_error or ""), 5)
    finally:
        t0 = time.monotonic()
        cam.stop()
        assert time.monotonic() - t0 < 5


def test_silent_server_times_out_instead_of_hanging() -> None:
    """A server that accepts the TCP connection and then says nothing (a hung camera)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    url = f"rtsp://127.0.0.1:{listener.getsockname()[1]}/cam"
    try:
        t0 = time.monotonic()
        with pytest.raises(SourceError, match=r"^cam-s: cannot open rtsp://.*: (timed out|.*)$") as info:
            open_source(url, "cam-s", realtime=False, open_timeout_s=1.0, read_timeout_s=1.0)
        assert time.monotonic() - t0 < 8, "open did not time out"
        assert "\n" not in str(info.value)
        cam = LiveCamera(url, "cam-s2", open_timeout_s=1.0, read_timeout_s=1.0, backoff_initial_s=0.1).start()
        assert _until(lambda: cam.stats.last_error is not None, 6)
        assert not cam.healthy
        cam.stop()
    finally:
        stop.set()
        thread.join(2)
        for conn in accepted:
            conn.close()
        listener.close()
