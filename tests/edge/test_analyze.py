"""``frontage analyze`` end to end on real footage with a real model, and episode-level evaluation.

Real parts: a 20 s cut of the PETS 2009 campus clip (../shared) and the COCO YOLOv8n int8 model. The
scene has two vehicles parked at the top right for the whole clip; a test class map counts COCO ``car``
and ``truck`` as disorderly parking, so the run must report one open episode in that zone and none in the
empty one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from detector.pipeline.evaluate import TruthFileError, load_episodes, score
from detector.zones.schema import parse_zones
from tests.helpers.coco_cars import CARS, ZONES

ROOT = Path(__file__).resolve().parents[2]



@pytest.fixture(scope="module")
def scene(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("analyze")
    clip = d / "campus20.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(shared_dir / "videos" / "pets2009_campus_480x360.avi"),
                    "-t", "20", "-c:v", "libx264", "-g", "10", "-bf", "0", "-pix_fmt", "yuv420p", str(clip)], check=True)
    (d / "zones.yaml").write_text(ZONES)
    (d / "cars.classes.yaml").write_text(CARS)
    return {"dir": d, "clip": clip, "zones": d / "zones.yaml", "classes": d / "cars.classes.yaml",
            "model": shared_dir / "models" / "yolov8n-coco-int8.onnx"}


def frontage(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "detector", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


def test_analyze_real_clip_with_coco_model(scene: dict[str, Path]) -> None:
    out = scene["dir"] / "result.json"
    truth = scene["dir"] / "campus.truth.json"
    truth.write_text(json.dumps({"episodes": [
        {"zone": "parking", "category": "disorderly_parking", "start_s": 0.0, "end_s": None},
        {"zone": "kerb", "category": "out_of_store_trading", "start_s": 3.0, "end_s": 9.0},  # not in the clip
    ]}))
    proc = frontage("analyze", str(scene["clip"]), "--zones", str(scene["zones"]), "--model", str(scene["model"]),
                    "--classes", str(scene["classes"]), "--json", str(out), "--evidence-dir", str(scene["dir"] / "ev"),
                    "--clip-s", "4", "--truth", str(truth), "--imgsz", "480")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    result = json.loads(out.read_text())
    assert set(result) >= {"video", "model", "episodes"} and result["frames"] == 20
    assert result["imgsz"] == 480  # --imgsz overrides the model's own input size
    (episode,) = result["episodes"]
    assert set(episode) >= {"camera", "zone", "merchant", "category", "start_s", "end_s", "evidence"}
    assert (episode["camera"], episode["zone"], episode["merchant"], episode["category"]) == \
        ("cam-01", "parking", None, "disorderly_parking")
    assert episode["start_s"] <= 2.0 and episode["end_s"] is None  # parked all along, still there at the end
    # what opened it, for a reviewer: the class, score and normalised box of the object (issue 15 item 5)
    assert episode["opened_class"] in ("car", "truck") and 0.25 <= episode["opened_score"] <= 1
    x0, y0, x1, y1 = episode["opened_box"]
    assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1 and (x0 + x1) / 2 >= 0.8  # in the parking zone, top right
    assert [Path(p).name for p in episode["evidence"]] == ["0-frame.jpg", "0-crop.jpg", "0-raw.jpg", "0-clip.mp4"]
    assert all(Path(p).stat().st_size > 0 for p in episode["evidence"])
    assert "disorderly_parking" in proc.stdout  # the rich table
    assert "precision 1.000  recall 0.500" in proc.stdout
    assert result["score"]["matched"] == 1
    assert "\x1b[" not in proc.stderr  # no progress bar when not on a terminal


def test_score_matching_rules() -> None:
    zones = parse_zones({"camera": "c", "zones": [
        {"id": "z1", "kind": "sidewalk", "polygon": [[0, 0], [1, 0], [1, 1]], "forbid": ["exposed_garbage"], "dwell_s": 20}]})
    truth = [{"zone": "z1", "category": "exposed_garbage", "start_s": 100.0},
             {"zone": "z1", "category": "exposed_garbage", "start_s": 400.0}]
    # within dwell_s + 5 s of the true start, same zone and category; one-to-one
    pred = [{"zone": "z1", "category": "exposed_garbage", "start_s": 124.0},
            {"zone": "z1", "category": "exposed_garbage", "start_s": 110.0},
            {"zone": "z1", "category": "out_of_store_trading", "start_s": 400.0},
            {"zone": "z1", "category": "exposed_garbage", "start_s": 426.0}]
    s = score(pred, truth, zones)
    assert (s.matched, s.precision, s.recall) == (1, 0.25, 0.5)
    assert score([], []).precision == 1.0 and score([], truth).recall == 0.0
    assert score(pred[:1], truth[:1], None, default_dwell_s=30).matched == 1


def test_truth_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "x.truth.json"
    bad.write_text("{not json")
    with pytest.raises(TruthFileError, match=r"x\.truth\.json: not readable JSON"):
        load_episodes(bad)
    bad.write_text('{"episodes": [{"zone": "z"}]}')
    with pytest.raises(TruthFileError, match="zone, category and start_s"):
        load_episodes(bad)
    with pytest.raises(TruthFileError, match="not found"):
        load_episodes(tmp_path / "none.json")
