"""Bad input through the real CLI (subprocess): one ``error:`` line, non-zero exit, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.receiver import free_port

ROOT = Path(__file__).resolve().parents[2]

ZONES = """\
camera: cam-01
zones:
  - id: z-a
    kind: sidewalk
    polygon: [[0, 0], [1, 0], [1, 1], [0, 1]]
    forbid: [exposed_garbage]
"""


def frontage(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "detector", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


def assert_one_clear_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "zones.yaml").write_text(ZONES)
    (tmp_path / "bad-zones.yaml").write_text(ZONES.replace("exposed_garbage", "graffiti"))
    (tmp_path / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    (tmp_path / "model.classes.yaml").write_text("classes: {trash_bag: exposed_garbage}\n")
    return {"dir": tmp_path, "zones": tmp_path / "zones.yaml", "bad_zones": tmp_path / "bad-zones.yaml",
            "corrupt": tmp_path / "corrupt.mp4"}


@pytest.fixture(scope="module")
def coco(shared_dir: Path) -> list[str]:
    return ["--model", str(shared_dir / "models" / "yolov8n-coco-int8.onnx"),
            "--classes", str(ROOT / "models" / "coco.classes.yaml")]


def test_missing_video(files: dict[str, Path]) -> None:
    assert_one_clear_error(frontage("analyze", str(files["dir"] / "nope.mp4"), "--zones", str(files["zones"])),
                           "nope.mp4", "no such file")


def test_corrupt_video(files: dict[str, Path], coco: list[str]) -> None:
    assert_one_clear_error(frontage("analyze", str(files["corrupt"]), "--zones", str(files["zones"]), *coco),
                           "corrupt.mp4")


def test_unreachable_rtsp(files: dict[str, Path], coco: list[str]) -> None:
    url = f"rtsp://127.0.0.1:{free_port()}/cam"
    assert_one_clear_error(frontage("analyze", url, "--zones", str(files["zones"]), *coco), url)


def test_malformed_zones(files: dict[str, Path], coco: list[str]) -> None:
    assert_one_clear_error(frontage("analyze", str(files["corrupt"]), "--zones", str(files["bad_zones"]), *coco),
                           "bad-zones.yaml", "zone 'z-a'", "forbid")


def test_missing_model(files: dict[str, Path]) -> None:
    model = files["dir"] / "model.onnx"
    assert_one_clear_error(frontage("analyze", str(files["corrupt"]), "--zones", str(files["zones"]),
                                    "--model", str(model)), "model.onnx", "no such file")


def test_classes_file_missing_a_model_class(files: dict[str, Path], shared_dir: Path) -> None:
    assert_one_clear_error(frontage("analyze", str(files["corrupt"]), "--zones", str(files["zones"]),
                                    "--model", str(shared_dir / "models" / "yolov8n-coco-int8.onnx"),
                                    "--classes", str(files["dir"] / "model.classes.yaml")),
                           "model.classes.yaml", "'person' is not listed")


BASE = "service_url: http://x\ndevice_id: b\nmodel: {path: m.onnx}\n"
CAM = "cameras: [{id: c, url: rtsp://127.0.0.1:9/x, zones: zones.yaml}]\n"


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("service_url: [", ("edge.yaml", "malformed YAML")),
        (BASE.replace("m.onnx", "nowhere.onnx") + CAM, ("nowhere.onnx", "no such file")),
        (BASE.replace("m.onnx", "nowhere.onnx") + CAM.replace("zones.yaml", "bad-zones.yaml"),
         ("camera 'c'", "bad-zones.yaml", "zone 'z-a'", "forbid")),
    ],
)
def test_bad_edge_config(files: dict[str, Path], text: str, needles: tuple[str, ...]) -> None:
    cfg = files["dir"] / "edge.yaml"
    cfg.write_text(text)
    assert_one_clear_error(frontage("edge", "--config", str(cfg)), *needles)


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        (BASE.replace("http://x", "ftp://x") + "cameras: []\n", ("service_url", "cameras")),
        (BASE + "bogus: 1\n" + CAM, ("bogus: unknown key",)),
        # the old name of the gate's changed-pixel fraction: named, with the one name it has now
        (BASE + "gating: {threshold: 0.003}\n" + CAM, ("gating.threshold: unknown key (now gating.changed_fraction)",)),
        (BASE + "tracking: {frame_rate: 2}\n" + CAM, ("tracking.frame_rate: unknown key (now cameras[].analysis_fps)",)),
        (BASE + "tracking: {lost_track_buffer: 3}\n" + CAM, ("tracking.lost_track_buffer: unknown key",)),
        (BASE + "batch: {max_batch: 0}\n" + CAM, ("batch.max_batch",)),
        (BASE + "cameras: [{id: c, url: v.mp4, zones: z.yaml}, {id: c, url: w.mp4, zones: z.yaml}]\n",
         ("duplicate camera id 'c'",)),
        (BASE + "cameras: [{id: c, url: v.mp4, zones: z.yaml, analysis_fps: 0}]\n", ("cameras.0.analysis_fps",)),
    ],
)
def test_edge_config_messages(files: dict[str, Path], text: str, needles: tuple[str, ...]) -> None:
    """The same errors as above, in process (the CLI prints exactly this message)."""
    from detector.config import ConfigError, load_edge_config

    cfg = files["dir"] / "edge.yaml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_edge_config(cfg)
    assert str(err.value).startswith(f"{cfg}: ") and "\n" not in str(err.value)
    for needle in needles:
        assert needle in str(err.value)


def test_missing_edge_config(files: dict[str, Path]) -> None:
    assert_one_clear_error(frontage("edge", "--config", str(files["dir"] / "none.yaml")), "none.yaml", "not found")


def test_exit_when_done_needs_files(files: dict[str, Path]) -> None:
    cfg = files["dir"] / "edge.yaml"
    cfg.write_text("service_url: http://x\ndevice_id: b\nmodel: {path: m.onnx}\n"
                   "cameras: [{id: c, url: 'rtsp://127.0.0.1:9/x', zones: zones.yaml}]\n")
    assert_one_clear_error(frontage("edge", "--config", str(cfg), "--exit-when-done"), "--exit-when-done", "'c'")
