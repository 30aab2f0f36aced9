"""Inference backends on the real COCO model (../shared): onnxruntime and ultralytics agree, batches of mixed
sizes come back in original pixels, per-class thresholds, no torch in the onnxruntime path; plus a tiny
generated end-to-end (YOLO26-style [B, 300, 6]) model for that decoder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from detector.detections import Detections
from detector.inference import InferenceError, ModelConfig, load_backend
from detector.inference.onnx import OnnxRuntimeBackend
from detector.sources import open_source
from tests.helpers.agreement import matched

ROOT = Path(__file__).resolve().parents[2]
CLIP_FRAMES = {"pets2009_campus_480x360.avi": 2, "overhead_plaza_720p.avi": 2, "intel_parking_lot_768x432.mp4": 1,
               "intel_person_bicycle_car_480x270.gif": 1}


@pytest.fixture(scope="module")
def coco_model(shared_dir: Path) -> Path:
    return shared_dir / "models" / "yolov8n-coco-int8.onnx"


@pytest.fixture(scope="module")
def frames(shared_dir: Path) -> list[np.ndarray]:
    """Six frames of four real clips (four sizes, one grey clip); kept few: the CPU is shared."""
    out = []
    for name, count in CLIP_FRAMES.items():
        src = open_source(str(shared_dir / "videos" / name), "cam", analysis_fps=0.2)
        out += [f.image for f in list(src.frames())[:count]]
        src.close()
    return out


@pytest.fixture(scope="module")
def ort_backend(coco_model: Path) -> OnnxRuntimeBackend:
    backend = load_backend(ModelConfig(path=str(coco_model), backend="onnxruntime"))
    assert isinstance(backend, OnnxRuntimeBackend)
    return backend


@pytest.fixture(scope="module")
def ort_results(ort_backend: OnnxRuntimeBackend, frames: list[np.ndarray]) -> list[Detections]:
    return ort_backend.infer(frames)  # one call for all six frames of four sizes


@pytest.mark.shared
def test_metadata_and_sha(ort_backend: OnnxRuntimeBackend) -> None:
    assert len(ort_backend.class_names) == 80 and ort_backend.class_names[:2] == ("person", "bicycle")
    assert ort_backend.sha256 and ort_backend.sha256.startswith("83de8f0d2cd5") and ort_backend.sha256.endswith("7312")
    assert ort_backend.fixed_batch == 1 and (ort_backend.in_h, ort_backend.in_w) == (640, 640)
    assert ort_backend.name == "yolov8n-coco-int8" and ort_backend.version == "8.4.115"


@pytest.mark.shared
def test_onnxruntime_and_ultralytics_agree(coco_model: Path, ort_backend: OnnxRuntimeBackend,
                                           frames: list[np.ndarray], ort_results: list[Detections]) -> None:
    pytest.importorskip("ultralytics", reason="the ultralytics backend needs the train extra")
    ul = load_backend(ModelConfig(path=str(coco_model), backend="ultralytics"))
    assert ul.backend == "ultralytics" and ul.class_names == ort_backend.class_names
    assert ul.sha256 == ort_backend.sha256 and ul.version == ort_backend.version == "8.4.115"
    ours, theirs = ort_results, ul.infer(frames)
    total = sum(len(d) for d in theirs)
    assert total >= 20, "too few detections to compare"
    matched_ours = sum(matched(a, b) for a, b in zip(ours, theirs, strict=True))
    matched_theirs = sum(matched(b, a) for a, b in zip(ours, theirs, strict=True))
    assert matched_theirs >= 0.95 * total
    assert matched_ours >= 0.95 * sum(len(d) for d in ours)


@pytest.mark.shared
def test_mixed_sizes_come_back_in_original_pixels(ort_backend: OnnxRuntimeBackend, frames: list[np.ndarray],
                                                   ort_results: list[Detections]) -> None:
    for i in (0, 2, 5):  # three sizes, one at a time: the same as inside the mixed batch
        alone = ort_backend.infer([frames[i]])[0]
        assert np.array_equal(alone.xyxy, ort_results[i].xyxy)
        assert np.array_equal(alone.class_id, ort_results[i].class_id)
    for image, det in zip(frames, ort_results, strict=True):
        h, w = image.shape[:2]
        assert (det.xyxy[:, [0, 2]] <= w).all() and (det.xyxy[:, [1, 3]] <= h).all() and (det.xyxy >= 0).all()
    # The same picture at twice the size: the same objects at twice the coordinates.
    small = frames[0]
    big = cv2.resize(small, (small.shape[1] * 2, small.shape[0] * 2), interpolation=cv2.INTER_LINEAR)
    d_small, d_big = ort_results[0], ort_backend.infer([big])[0]
    assert len(d_small) >= 3
    scaled = Detections(xyxy=d_small.xyxy * 2, confidence=d_small.confidence, class_id=d_small.class_id)
    assert matched(scaled, Detections(xyxy=d_big.xyxy, confidence=d_big.confidence, class_id=d_big.class_id),
                    score_tol=0.15) >= 0.8 * len(d_small)
    assert ort_backend.infer([]) == []


@pytest.mark.shared
def test_per_class_thresholds(coco_model: Path, ort_backend: OnnxRuntimeBackend, frames: list[np.ndarray],
                              ort_results: list[Detections]) -> None:
    # per-class thresholds alone: with cross-class suppression a dropped person would free the box it hid
    base = load_backend(ModelConfig(path=str(coco_model), backend="onnxruntime", cross_class_iou=1.0)).infer(frames)
    strict = load_backend(ModelConfig(path=str(coco_model), backend="onnxruntime",
                                     class_conf={"person": 0.7, "car": 0.99}, cross_class_iou=1.0))
    result = strict.infer(frames)
    names = ort_backend.class_names
    person, car = names.index("person"), names.index("car")
    for b, r in zip(base, result, strict=True):
        assert not (r.class_id == car).any()
        assert (r.confidence[r.class_id == person] > 0.7).all()
        others = ~np.isin(b.class_id, [person, car])
        assert np.count_nonzero(~np.isin(r.class_id, [person, car])) == np.count_nonzero(others)
        assert np.count_nonzero(r.class_id == person) == np.count_nonzero((b.class_id == person) & (b.confidence > 0.7))
    assert sum(np.count_nonzero(b.class_id == person) for b in base) > sum(
        np.count_nonzero(r.class_id == person) for r in result
    )


@pytest.mark.shared
def test_cross_class_duplicates_are_dropped(coco_model: Path, frames: list[np.ndarray],
                                            ort_results: list[Detections]) -> None:
    """Default (0.8): no two boxes of different classes cover the same object; 1.0 keeps every box, so the
    default result is the 1.0 result minus some lower-scoring boxes."""
    both = load_backend(ModelConfig(path=str(coco_model), backend="onnxruntime", cross_class_iou=1.0)).infer(frames)
    dropped = 0
    for kept, every in zip(ort_results, both, strict=True):
        rows = {(int(c), round(float(s), 4)) for c, s in zip(every.class_id, every.confidence, strict=True)}
        assert {(int(c), round(float(s), 4)) for c, s in zip(kept.class_id, kept.confidence, strict=True)} <= rows
        dropped += len(every) - len(kept)
        assert len(kept.without_cross_class_duplicates(0.8)) == len(kept)  # nothing left to drop
    assert dropped >= 1  # these frames hold such pairs (a person also scored as a horse or a bird)


def test_onnxruntime_backend_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "import detector.inference.onnx, detector.inference, detector.batching, detector.sources.live, "
        "detector.tracking, detector.gating, detector.metrics, detector.inference.autoselect\n"
        "from detector.inference.autoselect import sample_frames\n"
        "sample_frames(1)\n"  # auto-selection's street scene comes from detector.synth: no torch there either
        "bad = sorted(m for m in ('torch', 'ultralytics', 'torchvision') if m in sys.modules)\n"
        "print(','.join(bad) or 'clean')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "clean"


def test_bad_model_files(tmp_path: Path) -> None:
    with pytest.raises(InferenceError, match="no such file"):
        load_backend(ModelConfig(path=str(tmp_path / "missing.onnx")))
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"definitely not protobuf")
    for backend in ("auto", "onnxruntime", "openvino"):
        if backend == "openvino":
            pytest.importorskip("openvino", reason="the OpenVINO runtime is the `openvino` extra")
        with pytest.raises(InferenceError) as info:
            load_backend(ModelConfig(path=str(broken), backend={"type": backend, **(
                {"cache_file": str(tmp_path / "engines.json")} if backend == "auto" else {})}))
        assert str(info.value).startswith(f"cannot load model {broken}") and "\n" not in str(info.value)


def test_opencv_nms_keeps_what_the_numpy_nms_kept() -> None:
    """cv2.dnn.NMSBoxesBatched replaced the numpy loop: the same boxes, in the same order, on crowded
    random scenes of several classes (ties broken by index in both)."""
    from detector.inference.yolo import nms_class_aware, nms_class_aware_numpy

    rng = np.random.default_rng(7)
    for _ in range(50):
        n = int(rng.integers(1, 300))
        xy = rng.uniform(0, 600, (n, 2)).astype(np.float32)
        boxes = np.concatenate([xy, xy + rng.uniform(5, 120, (n, 2)).astype(np.float32)], axis=1)
        scores = rng.uniform(0.25, 1.0, n).astype(np.float32)
        classes = rng.integers(0, 4, n)
        for iou, max_det in ((0.7, 300), (0.45, 300), (0.7, 5)):
            assert nms_class_aware(boxes, scores, classes, iou, max_det).tolist() == \
                nms_class_aware_numpy(boxes, scores, classes, iou, max_det).tolist()
    assert nms_class_aware(np.zeros((0, 4), np.float32), np.zeros(0), np.zeros(0), 0.7, 300).tolist() == []


# -- end-to-end output ([B, 300, 6]) on a tiny generated model ----------------------------------------
@pytest.fixture(scope="module")
def e2e_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("onnx", reason="building the test model needs the onnx package (train extra)")
    from detector.inference.testing import write_fixed_output_model

    rows = [
        [100, 200, 300, 400, 0.9, 1],  # letterboxed pixels of the 640x640 input
        [10, 150, 50, 200, 0.5, 0],
        [0, 0, 5, 5, 0.1, 0],  # below threshold
    ]
    return write_fixed_output_model(tmp_path_factory.mktemp("e2e") / "e2e.onnx", rows, ["trash_bag", "chair"])


def test_end_to_end_output_decoding(e2e_model: Path) -> None:
    backend = load_backend(ModelConfig(path=str(e2e_model), backend="onnxruntime", conf=0.25))
    assert backend.class_names == ("trash_bag", "chair") and backend.version == "test-1"
    assert isinstance(backend, OnnxRuntimeBackend) and backend.fixed_batch is None
    wide = np.zeros((720, 1280, 3), np.uint8)  # gain 0.5, 140 px bars top and bottom
    square = np.zeros((320, 320, 3), np.uint8)  # gain 2
    d_wide, d_square = backend.infer([wide, square])
    assert d_wide.names.tolist() == ["chair", "trash_bag"]
    np.testing.assert_allclose(d_wide.xyxy[0], [200, 120, 600, 520])
    np.testing.assert_allclose(d_square.xyxy[0], [50, 100, 150, 200])
    assert d_wide.confidence.tolist() == pytest.approx([0.9, 0.5])
    strict = load_backend(ModelConfig(path=str(e2e_model), backend="onnxruntime", class_conf={"trash_bag": 0.6}))
    assert strict.infer([square])[0].names.tolist() == ["chair"]


def test_dynamic_size_model_gets_the_smallest_rectangle(tmp_path: Path) -> None:
    """A model that takes any size is fed a stride-aligned rectangle, long side = its trained size."""
    pytest.importorskip("onnx", reason="building the test model needs the onnx package (train extra)")
    from detector.inference.testing import write_fixed_output_model

    path = write_fixed_output_model(tmp_path / "dyn.onnx", [[100, 200, 300, 300, 0.9, 1]], ["trash_bag", "chair"],
                                    imgsz=640, dynamic_size=True)
    backend = load_backend(ModelConfig(path=str(path), backend="onnxruntime"))
    upscaling = load_backend(ModelConfig(path=str(path), backend="onnxruntime", upscale=True))
    assert isinstance(backend, OnnxRuntimeBackend) and backend.fixed_hw is None and backend.imgsz == 640
    wide = np.zeros((720, 1280, 3), np.uint8)
    assert backend.input_size([wide]) == (384, 640)  # 640x360 + 12 px bars, not 640x640
    (d,) = backend.infer([wide])
    np.testing.assert_allclose(d.xyxy[0], [200, (200 - 12) / 0.5, 600, (300 - 12) / 0.5])
    # a batch shares one canvas: the square frame (enlarged, upscale on) makes it 640x640 again, and boxes stay
    # in each frame's pixels
    d_wide, d_square = upscaling.infer([wide, np.zeros((320, 320, 3), np.uint8)])
    np.testing.assert_allclose(d_wide.xyxy[0], [200, 120, 600, 320])
    np.testing.assert_allclose(d_square.xyxy[0], [50, 100, 150, 150])
    square = load_backend(ModelConfig(path=str(path), backend="onnxruntime", rect=False, imgsz=320))
    assert square.input_size([wide]) == (320, 320)
    # by default a frame smaller than the input size is not enlarged: it runs at its own size
    small = np.zeros((270, 480, 3), np.uint8)
    assert backend.input_size([small]) == (288, 480) and backend.input_size([wide, small]) == (384, 640)
    assert upscaling.input_size([small]) == (384, 640)
    (d_small,) = backend.infer([small])
    np.testing.assert_allclose(d_small.xyxy[0], [100, 200 - 9, 300, 270])  # 9 px bars, gain 1, clipped to the frame


def test_openvino_shares_the_decoding(e2e_model: Path, tmp_path: Path) -> None:
    """The OpenVINO engine reads the .onnx and its metadata itself and decodes exactly as ONNX Runtime does
    (a fixed-output model leaves nothing to the runtime's arithmetic)."""
    pytest.importorskip("openvino", reason="the OpenVINO runtime is the `openvino` extra")
    from detector.inference.openvino import OpenVinoBackend
    from detector.inference.testing import write_fixed_output_model

    dynamic = write_fixed_output_model(tmp_path / "dyn.onnx", [[100, 200, 300, 300, 0.9, 1]], ["trash_bag", "chair"],
                                       imgsz=640, dynamic_size=True)
    frames = [np.zeros((720, 1280, 3), np.uint8), np.zeros((320, 320, 3), np.uint8), np.zeros((270, 480), np.uint8)]
    for model in (e2e_model, dynamic):
        ort_backend = load_backend(ModelConfig(path=str(model), backend="onnxruntime", max_batch=2))
        ov_backend = load_backend(ModelConfig(path=str(model), backend={"type": "openvino", "hint": "f32"}, max_batch=2))
        assert isinstance(ov_backend, OpenVinoBackend) and ov_backend.backend == "openvino"
        for attr in ("class_names", "version", "sha256", "imgsz", "max_batch", "fixed_hw", "end2end"):
            assert getattr(ov_backend, attr) == getattr(ort_backend, attr), attr
        assert ov_backend.input_size(frames) == ort_backend.input_size(frames)
        for a, b in zip(ort_backend.infer(frames), ov_backend.infer(frames), strict=True):
            np.testing.assert_array_equal(a.xyxy, b.xyxy)
            np.testing.assert_array_equal(a.class_id, b.class_id)
