"""A real RTSP server for tests: GStreamer's RTSP server serving an H.264 MP4 file.

Two halves in one file:

* run as a script by Debian's ``/usr/bin/python3`` (which has ``gi``; the venv does not)::

      /usr/bin/python3 tests/helpers/rtsp_server.py --port 8554 --file clip.mp4 [--path /cam]

  serves ``rtsp://127.0.0.1:8554/cam`` (``filesrc ! qtdemux ! h264parse ! rtph264pay name=pay0``), at
  real-time pace, a fresh pipeline per client (each connection starts the file from its beginning; at its
  end the stream ends, so use a clip longer than the test, or expect the client to reconnect).

* imported by tests (``from tests.helpers.rtsp_server import RtspServer``)::

      with RtspServer(clip) as server:          # free port, waits until it answers
          url = server.url                     # rtsp://127.0.0.1:<port>/cam
          server.kill()                        # SIGKILL, like a crashed camera/NVR
          server.start()                       # same port again

  ``rtsp_server_available()`` tells whether GStreamer's RTSP server can run here (for skips), and
  ``make_h264_clip(path, seconds, fps, gop_s)`` writes a small H.264 MP4 test clip with PyAV.

  Fixtures (import them into a test module: ``from tests.helpers.rtsp_server import rtsp_server``):
  ``rtsp_clip`` (session: a 60 s 320x240 10 fps clip, keyframe every second) and ``rtsp_server`` (a started
  :class:`RtspServer` serving it; killed after the test). Without GStreamer they skip, or fail when
  ``FRONTAGE_REQUIRE_RTSP`` is set (CI).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"
SCRIPT = Path(__file__).resolve()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rtsp_server_available() -> tuple[bool, str]:
    """(True, "") if /usr/bin/python3 can import GstRtspServer, else (False, why)."""
    if not Path(SYSTEM_PYTHON).exists():
        return False, f"{SYSTEM_PYTHON} is missing"
    probe = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"
    proc = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, text=True, timeout=30)
    if proc.returncode:
        lines = proc.stderr.strip().splitlines() or ["unknown error"]
        return False, f"GStreamer RTSP server unavailable: {lines[-1]}"
    return True, ""


def make_h264_clip(
    path: str | Path, seconds: float = 20.0, fps: int = 10, gop_s: float = 1.0, size: tuple[int, int] = (320, 240)
) -> Path:
    """An H.264 MP4 of a moving gradient with a keyframe every ``gop_s`` (venv side: needs PyAV + numpy)."""
    import av
    import numpy as np

    path = Path(path)
    w, h = size
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        gop = max(1, round(gop_s * fps))
        stream.codec_context.gop_size = gop
        stream.codec_context.time_base = Fraction(1, fps)
        # closed GOPs every `gop` frames exactly, no B-frames: predictable keyframe times for the tests
        stream.options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(gop), "keyint_min": str(gop),
                          "sc_threshold": "0", "bf": "0"}
        xs = np.arange(w, dtype=np.uint16)[None, :]
        ys = np.arange(h, dtype=np.uint16)[:, None]
        for i in range(round(seconds * fps)):
            img = np.empty((h, w, 3), np.uint8)
            img[..., 0] = ((xs + i * 4) % 256).astype(np.uint8)
            img[..., 1] = ((ys + i * 2) % 256).astype(np.uint8)
            img[..., 2] = (i * 8) % 256
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


class RtspServer:
    """Runs this file as a GStreamer RTSP server subprocess on a fixed port (chosen free at construction)."""

    def __init__(self, file: str | Path, port: int | None = None, path: str = "/cam", start_timeout_s: float = 20.0):
        self.file = Path(file)
        self.port = port or free_port()
        self.path = path if path.startswith("/") else "/" + path
        self.start_timeout_s = start_timeout_s
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}{self.path}"

    def start(self) -> RtspServer:
        """Start (or restart) on the same port; returns when the port accepts connections."""
        if self.proc is not None and self.proc.poll() is None:
            return self
        cmd = [SYSTEM_PYTHON, str(SCRIPT), "--port", str(self.port), "--file", str(self.file), "--path", self.path]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read() if self.proc.stdout else ""
                raise RuntimeError(f"RTSP server exited with {self.proc.returncode}: {out.strip()[-500:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"RTSP server did not answer on port {self.port} within {self.start_timeout_s} s")

    def kill(self) -> None:
        """SIGKILL: the server vanishes without closing its sessions (a crash, a pulled cable)."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            if self.proc.stdout:
                self.proc.stdout.close()
            self.proc = None

    stop = kill

    def __enter__(self) -> RtspServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()


try:  # the fixtures exist on the venv side only (the server side runs without pytest)
    import pytest
except ImportError:  # pragma: no cover
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture(scope="session")
    def rtsp_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
        ok, why = rtsp_server_available()
        if not ok:
            if os.environ.get("FRONTAGE_REQUIRE_RTSP", "") not in ("", "0", "false"):
                pytest.fail(why)
            pytest.skip(why)
        return make_h264_clip(tmp_path_factory.mktemp("rtsp") / "cam.mp4", seconds=60, fps=10, gop_s=1.0)

    @pytest.fixture()
    def rtsp_server(rtsp_clip: Path):  # type: ignore[no-untyped-def]
        with RtspServer(rtsp_clip) as server:
            yield server


def _serve(port: int, file: str, path: str) -> None:  # runs under /usr/bin/python3
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    factory = GstRtspServer.RTSPMediaFactory()
    location = file.replace("\\", "\\\\").replace('"', '\\"')
    factory.set_launch(f'( filesrc location="{location}" ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )')
    factory.set_shared(False)
    server.get_mount_points().add_factory(path, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on port {port}", flush=True)
        sys.exit(2)
    print(f"READY rtsp://127.0.0.1:{port}{path}", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Serve an H.264 MP4 file over RTSP (GStreamer)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--file", required=True)
    parser.add_argument("--path", default="/cam")
    args = parser.parse_args()
    _serve(args.port, args.file, args.path)
