"""edge.yaml: each subsystem's settings under one documented name, shown in examples/edge.yaml, and the
metrics server's bind address (``metrics_host``, loopback by default) honoured by the real edge process.

Unknown and renamed keys (``gating.threshold``) are tests/edge/test_cli_errors.py::test_edge_config_messages.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from pydantic import BaseModel

from detector.config import EdgeConfig, load_edge_config
from tests.helpers.rtsp_server import free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "edge.yaml"


def _sections(model: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """Fields of ``model`` that are themselves typed configs (one subsystem each)."""
    out = {}
    for name, info in model.model_fields.items():
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out[name] = ann
    return out


def test_every_setting_has_a_title_and_a_description() -> None:
    todo: list[tuple[str, type[BaseModel]]] = [("", EdgeConfig)]
    from detector.config import CameraConfig

    todo.append(("cameras[].", CameraConfig))
    while todo:
        prefix, model = todo.pop()
        for name, info in model.model_fields.items():
            assert info.title and info.description, f"{prefix}{name} lacks a title or description"
        todo += [(f"{prefix}{name}.", sub) for name, sub in _sections(model).items()]


def test_the_example_shows_every_section_and_loads() -> None:
    cfg = load_edge_config(EXAMPLE)
    raw = yaml.safe_load(EXAMPLE.read_text())
    sections = _sections(EdgeConfig)
    assert {"model", "batch", "gating", "tracking", "uplink"} <= set(sections)
    for name in sections:
        assert name in raw, f"examples/edge.yaml lacks the {name}: section"
    for name in ("batch", "gating", "tracking"):  # every field of the pipeline's own sections, with its default
        shown = raw[name]
        assert set(shown) == set(sections[name].model_fields), name
        assert getattr(cfg, name) == sections[name](), f"{name}: the example should show the defaults"
    assert cfg.metrics_host == "127.0.0.1" and EdgeConfig.model_fields["metrics_host"].default == "127.0.0.1"


def _outside_address() -> str | None:
    """This machine's address on its first non-loopback interface (None when it has none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
        except OSError:
            return None
        address = s.getsockname()[0]
    return None if address.startswith("127.") else address


def _refused(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        return True
    return False


@pytest.mark.parametrize("host", ["default", "0.0.0.0"])
def test_edge_metrics_bind_the_configured_address(shared_dir: Path, tmp_path: Path, host: str) -> None:
    outside = _outside_address()
    if outside is None:
        pytest.skip("this machine has no non-loopback address to try the metrics port from")
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=5", "-t", "4",
                    "-c:v", "libx264", "-g", "5", "-pix_fmt", "yuv420p", str(tmp_path / "clip.mp4")], check=True)
    (tmp_path / "zones.yaml").write_text("camera: cam-01\nzones:\n  - {id: z, kind: sidewalk, polygon: "
                                         "[[0, 0], [1, 0], [1, 1], [0, 1]], forbid: [street_vending]}\n")
    port = free_port()
    cfg = tmp_path / "edge.yaml"
    cfg.write_text(f"""\
service_url: http://127.0.0.1:{free_port()}
device_id: box-1
model: {{path: {shared_dir / 'models' / 'yolov8n-coco-int8.onnx'}, conf: 0.9}}
classes: {ROOT / 'models' / 'coco.classes.yaml'}
cameras: [{{id: cam-01, url: clip.mp4, zones: zones.yaml, realtime: true, loop: true}}]
outbox: out/outbox.db
evidence_dir: out/evidence
metrics_port: {port}
{'' if host == 'default' else f'metrics_host: {host}'}
""")
    proc = subprocess.Popen([sys.executable, "-m", "detector", "edge", "--config", str(cfg), "--log-level", "WARNING"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "FRONTAGE_DEVICE_KEY": "k"})
    try:
        deadline = time.monotonic() + 120
        text = ""
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
                if 'frontage_frames_analysed_total{camera="cam-01"}' in text:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        assert 'frontage_frames_analysed_total{camera="cam-01"}' in text, proc.stderr.read() if proc.poll() else ""
        # loopback by default: from the box's own outside address the port is closed; 0.0.0.0 opens it
        assert _refused(outside, port) is (host == "default")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
