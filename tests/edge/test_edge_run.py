"""``frontage edge`` on real footage: file cameras with --exit-when-done, config loading, model hot reload.

Real parts: a cut of the PETS 2009 campus clip (../shared) in which two vehicles stay parked at the top
right, the COCO YOLOv8n int8 model with a test class map (car/truck -> disorderly_parking), the real CLI
in a subprocess, and a real local HTTP receiver (`tests.helpers.receiver`).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from detector.config import ConfigError, load_edge_config
from tests.helpers.receiver import EventReceiver

ROOT = Path(__file__).resolve().parents[2]

ZONES = """\
camera: {cam}
defaults: {{dwell_s: 3, clear_s: 30, grace_s: 3}}
zones:
  - id: parking
    kind: parking
    polygon: [[0.8, 0.0], [1.0, 0.0], [1.0, 0.25], [0.8, 0.25]]
    forbid: [disorderly_parking]
  - id: kerb
    merchant: m-1
    kind: storefront
    polygon: [[0.0, 0.5], [0.5, 0.5], [0.5, 1.0], [0.0, 1.0]]
    fixtures: [[[0.1, 0.6], [0.2, 0.6], [0.2, 0.7], [0.1, 0.7]]]
    forbid: [disorderly_parking, out_of_store_trading]
"""
CARS = "model: coco-cars\ndefault: ignore\nclasses: {car: disorderly_parking, truck: disorderly_parking}\n"


@pytest.fixture(scope="module")
def site(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("edge")
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(shared_dir / "videos" / "pets2009_campus_480x360.avi"),
                    "-t", "8", "-c:v", "libx264", "-g", "10", "-bf", "0", "-pix_fmt", "yuv420p", str(d / "campus.mp4")],
                   check=True)
    for cam in ("cam-01", "cam-02"):
        (d / f"{cam}.yaml").write_text(ZONES.format(cam=cam))
    shutil.copy(shared_dir / "models" / "yolov8n-coco-int8.onnx", d / "coco.onnx")
    (d / "coco.classes.yaml").write_text(CARS)  # found beside the model by its stem
    return d


def write_config(site: Path, url: str, name: str = "edge.yaml", extra: str = "") -> Path:
    cfg = site / name
    cfg.write_text(f"""\
service_url: {url}
device_id: box-7
device_key: test-key
model: {{path: coco.onnx}}
cameras:
  - {{id: cam-01, url: campus.mp4, zones: cam-01.yaml, analysis_fps: 1}}
  - {{id: cam-02, url: campus.mp4, zones: cam-02.yaml, analysis_fps: 1}}
outbox: {name}.out/outbox.db
evidence_dir: {name}.out/evidence
clip_s: 3
start_time: 2026-05-01T10:00:00Z
{extra}""")
    return cfg


def test_edge_files_exit_when_done(site: Path) -> None:
    receiver = EventReceiver().start()
    try:
        cfg = write_config(site, receiver.url)
        proc = subprocess.run([sys.executable, "-m", "detector", "edge", "--config", str(cfg), "--exit-when-done"],
                              capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "Traceback" not in proc.stderr
        events = receiver.events()
        # two cameras (one batch each round), one parked-vehicle episode each, still open at the end
        assert sorted((e["camera"], e["zone"], e["type"]) for e in events) == [
            ("cam-01", "parking", "violation_started"), ("cam-02", "parking", "violation_started")]
        assert receiver.total_posts == 2
        for post in receiver.posts:
            ev = post.event
            assert post.authorization == "Bearer test-key"
            assert ev["device_id"] == "box-7" and ev["category"] == "disorderly_parking" and ev["seq"] == 0
            assert ev["started_at"].startswith("2026-05-01T10:00:0")  # start_time + media time of first sighting
            assert ev["model"]["name"] == "coco" and len(ev["model"]["sha256"]) == 64
            assert ev["frame_size"] == [480, 360] and ev["detections"]
            assert set(post.parts) == {"frame.jpg", "crop.jpg", "raw.jpg", "clip.mp4"} and min(post.parts.values()) > 0
        assert "still open" in proc.stderr
    finally:
        receiver.stop()


def test_config_paths_and_key(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write_config(site, "http://127.0.0.1:1", "c.yaml", "device_key_env: MY_KEY\n").read_text()
    (site / "c.yaml").write_text(cfg.replace("device_key: test-key\n", ""))
    loaded = load_edge_config(site / "c.yaml")
    assert Path(loaded.model.path) == site / "coco.onnx" and loaded.cameras[0].zones == site / "cam-01.yaml"
    assert loaded.cameras[0].url == str(site / "campus.mp4") and loaded.outbox == site / "c.yaml.out" / "outbox.db"
    assert loaded.key() is None
    monkeypatch.setenv("MY_KEY", "from-env")
    assert loaded.key() == "from-env"
    for field_name, info in type(loaded).model_fields.items():
        assert info.title and info.description, field_name
    (site / "bad.yaml").write_text(cfg.replace("analysis_fps: 1}", "analysis_fps: -1}", 1))
    with pytest.raises(ConfigError, match=r"bad\.yaml: cameras\.0\.analysis_fps"):
        load_edge_config(site / "bad.yaml")
    assert loaded.uplink.retry_max_s == 60 and loaded.uplink.batch_size == 50
    for sub in (loaded.uplink, loaded.batch, loaded.gating):
        for field_name, info in type(sub).model_fields.items():
            assert info.title and info.description, field_name
    (site / "up.yaml").write_text(cfg + "uplink: {retry_initial_s: 5, retry_max_s: 2}\n")
    with pytest.raises(ConfigError, match=r"up\.yaml: uplink: .*retry_initial_s \(5.0\) is longer than retry_max_s"):
        load_edge_config(site / "up.yaml")


def test_model_file_change_is_hot_reloaded(site: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A replaced model file is picked up without a restart; a broken one is refused and the old model kept."""
    onnx = pytest.importorskip("onnx")
    from detector.pipeline.live import EdgeRuntime

    work = site / "reload"
    work.mkdir()
    shutil.copy(site / "coco.onnx", work / "coco.onnx")
    shutil.copy(site / "coco.classes.yaml", work / "coco.classes.yaml")
    cfg = load_edge_config(write_config(site, "http://127.0.0.1:1", "r.yaml").rename(site / "r.yaml"))
    cfg = cfg.model_copy(update={"model": cfg.model.model_copy(update={"path": str(work / "coco.onnx")}),
                                 "model_check_s": 0.001})
    runtime = EdgeRuntime(cfg)
    from detector.classmap import ClassMap

    runtime.classmap = ClassMap.load(work / "coco.classes.yaml")
    runtime.backend = runtime._load_model()
    runtime._model_stamp, runtime._model_sha = runtime._model_file_stamp(), runtime.backend.sha256
    first = runtime.backend
    assert not runtime.maybe_reload_model()  # unchanged
    # a broken file (half-copied) is refused, the running model stays
    (work / "coco.onnx").write_bytes(b"not an onnx model")
    with caplog.at_level(logging.ERROR, logger="frontage.edge"):
        runtime._next_model_check = 0  # the check interval, not the clock, decides in this test
        assert not runtime.maybe_reload_model()
    assert runtime.backend is first and "keeping the running model" in caplog.text
    # a new, valid model (same network, new version metadata) is swapped in
    model = onnx.load(str(site / "coco.onnx"))
    for prop in model.metadata_props:
        if prop.key == "version":
            prop.value = "reloaded-2"
            break
    else:
        model.metadata_props.add(key="version", value="reloaded-2")
    onnx.save(model, str(work / "coco.onnx"))
    runtime._next_model_check = 0
    assert runtime.maybe_reload_model()
    assert runtime.backend is not first and runtime.backend.version == "reloaded-2" and runtime.model_reloads == 1
