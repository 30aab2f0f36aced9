"""int8 static quantisation of the shipped model (``detector.inference.quantize``): the output keeps the
metadata the engines read, runs on ONNX Runtime, and still finds the float model's objects. Calibrated here
on a few generated frames only (the shipped figures use 48; BENCHMARKS.md §6)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detector.inference import ModelConfig, load_backend
from detector.sources import open_source
from tests.helpers.agreement import agreement

ROOT = Path(__file__).resolve().parents[2]
ONNX = ROOT / "models" / "frontage-n.onnx"
CLIP = ROOT / "sample_videos" / "market-street-day.mp4"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (ONNX.exists() and CLIP.exists()), reason="shipped model or sample clip missing")]


def test_int8_model_keeps_metadata_and_objects(tmp_path: Path) -> None:
    pytest.importorskip("onnx", reason="quantisation needs the onnx package (train extra)")
    from detector.inference.quantize import calibration_frames, quantize_int8

    out = quantize_int8(ONNX, tmp_path / "int8.onnx", calibration_frames(4))
    assert out.stat().st_size < ONNX.stat().st_size / 2
    src = open_source(str(CLIP), "cam", analysis_fps=0.1)
    frames: list[np.ndarray] = [f.image for f in list(src.frames())[:3]]
    src.close()
    full = load_backend(ModelConfig(path=str(ONNX), backend="onnxruntime"))
    int8 = load_backend(ModelConfig(path=str(out), backend="onnxruntime"))
    assert int8.class_names == full.class_names and int8.imgsz == full.imgsz
    assert int8.version == f"{full.version}-int8" and int8.sha256 != full.sha256
    a, b = full.infer(frames), int8.infer(frames)
    assert sum(len(d) for d in a) >= 10
    # the same objects (class and IoU >= 0.9), scores left free: int8 moves them by a few hundredths
    assert agreement(a, b, 1.0) >= 0.8 and agreement(b, a, 1.0) >= 0.8
