"""The shipped model gives the same detections through every backend an edge box can choose.

ONNX Runtime on ``models/frontage-n.onnx`` (the edge image's backend: rectangular letterbox, OpenCV NMS),
the OpenVINO runtime on the same ``.onnx`` (f32 and bf16; ``backend: auto`` may choose it), ultralytics on
``models/frontage-n.pt`` (torch) and ultralytics on an OpenVINO export of that ``.pt`` (made here, in a
temporary folder, by ultralytics' own exporter). OpenVINO needs the ``openvino`` extra. Frames come from the
committed sample clips, so this runs on a fresh clone without ../shared.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from detector.detections import Detections
from detector.inference import Backend, ModelConfig, load_backend
from detector.sources import open_source
from tests.helpers.agreement import agreement

ROOT = Path(__file__).resolve().parents[2]
ONNX = ROOT / "models" / "frontage-n.onnx"
PT = ROOT / "models" / "frontage-n.pt"
CLIPS = sorted((ROOT / "sample_videos").glob("*.mp4"))

pytestmark = pytest.mark.skipif(not (ONNX.exists() and PT.exists() and CLIPS),
                                reason="models/frontage-n.{onnx,pt} or sample_videos/*.mp4 missing")


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    out = []
    for clip in CLIPS:
        src = open_source(str(clip), "cam", analysis_fps=0.05)  # a frame every 20 s
        out += [f.image for f in list(src.frames())[:3]]
        src.close()
    return out


@pytest.fixture(scope="module")
def onnxruntime_backend() -> Backend:
    backend = load_backend(ModelConfig(path=str(ONNX), backend="onnxruntime"))
    assert backend.backend == "onnxruntime"
    return backend


@pytest.fixture(scope="module")
def onnxruntime_results(onnxruntime_backend: Backend, frames: list[np.ndarray]) -> list[Detections]:
    results = onnxruntime_backend.infer(frames)
    assert sum(len(d) for d in results) >= 20, "too few detections to compare"
    return results


def test_torch_and_onnxruntime_agree(frames: list[np.ndarray], onnxruntime_results: list[Detections]) -> None:
    pytest.importorskip("ultralytics", reason="the ultralytics backend needs the train extra")
    torch_results = load_backend(ModelConfig(path=str(PT))).infer(frames)
    assert agreement(onnxruntime_results, torch_results, 0.02) >= 0.95
    assert agreement(torch_results, onnxruntime_results, 0.02) >= 0.95


@pytest.mark.parametrize(("hint", "score_tol", "least"), [("f32", 0.02, 0.95), ("bf16", 0.03, 0.9)])
def test_openvino_runtime_agrees(frames: list[np.ndarray], onnxruntime_backend: Backend,
                                 onnxruntime_results: list[Detections], hint: str, score_tol: float,
                                 least: float) -> None:
    """The OpenVINO engine on the same .onnx: same metadata, same canvases, the same boxes (bf16 moves
    scores by up to ~0.03, so its tolerance is auto-selection's)."""
    pytest.importorskip("openvino", reason="the OpenVINO runtime is the `openvino` extra")
    backend = load_backend(ModelConfig(path=str(ONNX), backend={"type": "openvino", "hint": hint}))
    assert backend.backend == "openvino"
    for attr in ("name", "version", "sha256", "class_names", "imgsz", "max_batch"):
        assert getattr(backend, attr) == getattr(onnxruntime_backend, attr), attr
    assert backend.input_size(frames) == onnxruntime_backend.input_size(frames)
    openvino_results = backend.infer(frames)
    assert agreement(onnxruntime_results, openvino_results, score_tol) >= least
    assert agreement(openvino_results, onnxruntime_results, score_tol) >= least


def test_openvino_export_agrees(frames: list[np.ndarray], onnxruntime_backend: Backend,
                                onnxruntime_results: list[Detections],
                                tmp_path: Path) -> None:
    pytest.importorskip("ultralytics", reason="exporting needs the train extra")
    pytest.importorskip("openvino", reason="the OpenVINO runtime is the `openvino` extra")
    from ultralytics import YOLO

    pt = shutil.copy(PT, tmp_path / PT.name)
    # exported at the size the model runs at (the .pt's stamped operating size, not its training size)
    folder = Path(YOLO(str(pt), task="detect").export(format="openvino", dynamic=True, device="cpu",
                                                      imgsz=onnxruntime_backend.imgsz))
    backend = load_backend(ModelConfig(path=str(folder)))
    assert backend.backend == "ultralytics" and backend.class_names == tuple(onnxruntime_backend.class_names)
    openvino_results = backend.infer(frames)
    # OpenVINO fuses and reorders float maths differently: scores may differ a little more
    assert agreement(onnxruntime_results, openvino_results, 0.03) >= 0.9
    assert agreement(openvino_results, onnxruntime_results, 0.03) >= 0.9
