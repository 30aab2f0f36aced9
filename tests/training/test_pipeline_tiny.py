"""The whole training pipeline end to end on a tiny dataset, offline, through the real CLI.

dataset build (a few generated frames, plus a few real bags and teacher frames when ../shared is there)
-> train 1 epoch at a tiny input size (then resume it) -> export ONNX -> run it with ONNX Runtime -> evaluate.

Every command runs in a subprocess whose ``socket.connect`` refuses anything but loopback and records the
attempt, so a download attempt (weights, the Arial font, pip auto-install) fails the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, SHARED

GUARD = '''
import os, socket
_log = os.environ["FRONTAGE_NET_LOG"]
_connect = socket.socket.connect
def _guarded(self, address):
    host = address[0] if isinstance(address, tuple) else str(address)
    if self.family == socket.AF_UNIX or host in ("127.0.0.1", "::1", "localhost"):
        return _connect(self, address)
    with open(_log, "a") as f:
        f.write(f"{address}\\n")
    raise OSError("network disabled by test")
socket.socket.connect = _guarded
'''


@pytest.fixture()
def offline_env(tmp_path: Path) -> dict[str, str]:
    guard_dir = tmp_path / "guard"
    guard_dir.mkdir()
    (guard_dir / "sitecustomize.py").write_text(GUARD)
    env = dict(os.environ)
    env.update({
        "PYTHONPATH": os.pathsep.join([str(guard_dir), str(ROOT)]),
        "FRONTAGE_NET_LOG": str(tmp_path / "net.log"),
        "YOLO_OFFLINE": "1", "YOLO_AUTOINSTALL": "False",
        "YOLO_CONFIG_DIR": str(tmp_path / "ultralytics"),  # fresh: the font must come from offline_assets
        "MPLCONFIGDIR": str(tmp_path / "mpl"),
        "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
    })
    return env


def frontage(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "detector", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, f"frontage {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


def test_tiny_pipeline_end_to_end_offline(tmp_path: Path, offline_env: dict[str, str]) -> None:
    data_dir = tmp_path / "ds"
    # small generated frames and no teacher pass: the shared 2-core machine must run this in about a minute
    args = ["dataset", "build", "--out", str(data_dir), "--synth", "6", "--composites", "2", "--seed", "1",
            "--synth-size", "480x270"]
    with_shared = (SHARED / "README.md").exists()
    if with_shared:
        args += ["--shared", str(SHARED), "--bags", "4", "--bags-val", "4", "--teacher-every", "0",
                 "--garbage", "3", "--garbage-val", "2", "--mine-every", "0"]
    out = frontage(offline_env, *args)
    manifest = json.loads((data_dir / "manifest.json").read_text())
    assert manifest["images"]["train"]["synth"] >= 4
    if with_shared:
        assert manifest["images"]["train"]["bags"] == 4 and manifest["images"]["val"]["bags"] == 4
        assert manifest["images"]["train"]["garbage"] == 3 and manifest["images"]["val"]["garbage"] == 2
    else:
        assert "synthetic part alone" in out

    project = tmp_path / "runs"
    common = ["--project", str(project), "--name", "tiny", "--workers", "0", "--device", "cpu"]
    frontage(offline_env, "train", "--data", str(data_dir / "data.yaml"), "--epochs", "2", "--chunk", "1",
             "--imgsz", "96", "--batch", "8", *common)
    last = project / "tiny" / "weights" / "last.pt"
    assert last.exists()
    out = frontage(offline_env, "train", "--resume", *common)  # the second (last) epoch of the schedule
    assert "Resuming training" in out

    # the font ultralytics wants came from matplotlib, not from the internet
    font = Path(offline_env["YOLO_CONFIG_DIR"]) / "Ultralytics" / "Arial.ttf"
    from detector.training.offline_assets import bundled_font

    assert font.read_bytes() == bundled_font().read_bytes()
    net_log = Path(offline_env["FRONTAGE_NET_LOG"])
    assert not net_log.exists(), f"network access attempted: {net_log.read_text()}"

    registry_file = tmp_path / "versions.json"
    dest = tmp_path / "model" / "frontage-n.onnx"
    # no --imgsz: export and evaluate default to the size the weights were trained at (96 here)
    out = frontage(offline_env, "train", "export", "--weights", str(last), "--dest", str(dest),
                   "--registry", str(registry_file))
    entry = json.loads(registry_file.read_text())["models"][-1]
    from detector.training.registry import sha256_of

    assert entry["version"] == "1.0" and entry["onnx_sha256"] == sha256_of(dest)
    assert entry["onnx_check"]["output_batch2"][0] == 2  # dynamic batch
    assert dest.with_suffix(".pt").stat().st_size < 15e6 and dest.stat().st_size < 15e6

    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(str(dest), providers=["CPUExecutionProvider"])
    # dynamic batch and dynamic height/width: the edge letterboxes 16:9 frames to a stride-aligned rectangle
    from detector.inference import metadata_imgsz

    assert all(isinstance(d, str) for d in session.get_inputs()[0].shape[2:])
    assert metadata_imgsz(session.get_modelmeta().custom_metadata_map) == 96  # the size it was trained at
    assert session.get_modelmeta().custom_metadata_map["frontage_version"] == "1.0"
    out_arr = session.run(None, {session.get_inputs()[0].name: np.zeros((3, 3, 96, 96), np.float32)})[0]
    from detector.training.classes import class_names

    assert out_arr.shape[0] == 3 and out_arr.shape[1] == 4 + len(class_names())

    metrics_file = tmp_path / "metrics.json"
    frontage(offline_env, "train", "evaluate", "--weights", str(dest), "--data", str(data_dir / "data.yaml"),
             "--out", str(metrics_file))
    metrics = json.loads(metrics_file.read_text())
    assert metrics["imgsz"] == 96
    assert "synth" in metrics["sources"] and 0.0 <= metrics["sources"]["synth"]["map50"] <= 1.0
    if with_shared:
        assert "bags" in metrics["sources"]
    assert not net_log.exists(), f"network access attempted: {net_log.read_text()}"


def test_a_longer_class_list_trains_from_the_grown_head(tmp_path: Path, offline_env: dict[str, str]) -> None:
    """How 3.1 grew into 4.0, in miniature (docs/TRAINING_NEXT.md): a later class list (the shipped one plus a
    new class), the shipped model with a head grown to it, a few training steps, an export that checks the new
    class count."""
    from detector.training.classes import CLASSES_FILE, class_names

    old = class_names()
    longer = tmp_path / "later.classes.yaml"
    longer.write_text(CLASSES_FILE.read_text().split("min_score:")[0] + "  scaffolding: ignore\n")
    names = (*old, "scaffolding")
    assert class_names(longer) == names
    data_dir = tmp_path / "ds"
    frontage(offline_env, "dataset", "build", "--out", str(data_dir), "--synth", "6", "--composites", "2",
             "--seed", "2", "--synth-size", "480x270")
    data = yaml.safe_load((data_dir / "data.yaml").read_text())
    assert [data["names"][i] for i in sorted(data["names"])] == list(old)
    data["names"] = dict(enumerate(names))  # the new class has no labels yet: the head still grows to it
    (data_dir / "later.yaml").write_text(yaml.safe_dump(data))
    init = tmp_path / "init.pt"
    teacher = SHARED / "models" / "yolov8n-coco-int8.onnx"
    grow = ["train", "grow-head", "--base", str(ROOT / "models" / "frontage-n.pt"), "--classes", str(longer),
            "--out", str(init)] + (["--teacher", str(teacher)] if teacher.exists() else [])
    report = _last_json(frontage(offline_env, *grow))
    assert report["from_base"] == list(old) and report["classes"] == len(names) and report["fresh"] == ["scaffolding"]
    project = tmp_path / "runs"
    frontage(offline_env, "train", "--data", str(data_dir / "later.yaml"), "--from", str(init), "--epochs", "1",
             "--imgsz", "64", "--batch", "4", "--project", str(project), "--name", "later", "--workers", "0",
             "--device", "cpu")
    last = project / "later" / "weights" / "last.pt"
    dest = tmp_path / "model" / "frontage-n.onnx"
    frontage(offline_env, "train", "export", "--weights", str(last), "--dest", str(dest), "--classes",
             str(longer), "--registry", str(tmp_path / "versions.json"))
    entry = json.loads((tmp_path / "versions.json").read_text())["models"][-1]
    assert entry["classes"] == list(names) and entry["onnx_check"]["output_batch1"][1] == 4 + len(names)
    assert not last.with_suffix(".onnx").exists()  # the by-product beside the weights is not left behind
    net_log = Path(offline_env["FRONTAGE_NET_LOG"])
    assert not net_log.exists(), f"network access attempted: {net_log.read_text()}"


def _last_json(text: str) -> dict:
    """The JSON object a command printed last (ultralytics logs around it)."""
    start = text.rindex("\n{") + 1 if "\n{" in text else text.index("{")
    return json.loads(text[start: text.index("\n}", start) + 2])


def _bad_class_map(tmp_path: Path) -> Path:
    path = tmp_path / "bad.classes.yaml"
    path.write_text("model: x\nclasses:\n  person: ignore\n  kiosk: vending_machine\n")
    return path


def test_bad_input_is_one_clear_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from detector.cli import app

    runner = CliRunner()
    for args, expected in (
        (["train", "--data", str(tmp_path / "missing.yaml")], "dataset not found"),
        (["train", "--resume", "--project", str(tmp_path), "--name", "none"], "nothing to resume"),
        (["train", "export", "--weights", str(tmp_path / "x.pt")], "weights not found"),
        (["dataset", "build", "--out", str(tmp_path / "d"), "--synth", "-1"], "--synth must be >= 0"),
        (["dataset", "build", "--out", str(tmp_path / "d"), "--classes", str(tmp_path / "no.yaml")], "class list not found"),
        (["dataset", "build", "--out", str(tmp_path / "d"), "--mine-every", "-2"], "--mine-every must be >= 0"),
        (["train", "grow-head", "--base", str(tmp_path / "none.pt")], "not found"),
        (["dataset", "build", "--out", str(tmp_path / "d"), "--classes", str(_bad_class_map(tmp_path))], "unknown category"),
    ):
        result = runner.invoke(app, args)  # in-process: four interpreter start-ups cost a minute on a busy box
        assert result.exit_code == 2, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert expected in result.output, result.output
