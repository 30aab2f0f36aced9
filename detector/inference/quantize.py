"""int8 post-training static quantisation of a Frontage ONNX export (ONNX Runtime QDQ).

Calibrated on the project's own data: street scenes from ``detector.synth`` (scenario layouts with seeds the
sample clips do not use, at several times of each clip), letterboxed exactly as the engines letterbox them
(``YoloExport.preprocess``), so the activation ranges are those the edge feeds. The detection head's last
decode (DFL, anchors, class sigmoid, the final concat) stays in float: it mixes pixel coordinates and 0-1
scores in one tensor, which one int8 scale cannot hold.

    python -m detector.inference.quantize models/frontage-n.onnx var/engines/frontage-n-int8.onnx

Needs the ``onnx`` package (train extra). The figures of the shipped model (speed, mAP50, episodes) are in
BENCHMARKS.md; the output runs on either engine (``backend: onnxruntime`` or ``openvino``).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def calibration_frames(count: int = 48, seed: int = 1000) -> list[np.ndarray]:
    """Generated street scenes, spread over every scenario and through each clip (seeds from ``seed`` up)."""
    from detector.synth.clip import FrameRenderer, build_plan
    from detector.synth.scenarios import SCENARIOS

    scenarios = list(SCENARIOS.values())
    per_plan = 4
    frames: list[np.ndarray] = []
    i = 0
    while len(frames) < count:
        plan = build_plan(scenarios[i % len(scenarios)], seed=seed + i, duration_s=20)
        renderer = FrameRenderer(plan)
        for k in range(per_plan):
            frames.append(renderer.frame(int(plan.frame_count * (k + 0.5) / per_plan)))
        i += 1
    return frames[:count]


def photo_frames(folder: Path, count: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` photos of an image folder (a fixed random sample), BGR, as the camera would give them."""
    import cv2

    paths = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    picked = np.random.default_rng(seed).permutation(len(paths))[:count]
    frames = [cv2.imread(str(paths[i])) for i in sorted(picked)]
    return [f for f in frames if f is not None]


def _head_nodes(model_path: Path, whole_head: bool = False) -> list[str]:
    """The detection head's decode nodes (DFL, anchors, sigmoid, concat) — all of the head module's nodes
    but its branch convolutions (``cv2``/``cv3``), which stay int8 like the rest of the network, unless
    ``whole_head``."""
    import onnx

    graph = onnx.load(str(model_path)).graph
    head = "/".join(graph.node[-1].name.split("/")[:2]) + "/"  # e.g. "/model.22/", the module of the output
    return [n.name for n in graph.node if n.name.startswith(head)
            and (whole_head or not any(f"/{b}." in n.name for b in ("cv2", "cv3", "cv4")))]


class _Reader:
    """onnxruntime.quantization's CalibrationDataReader over preprocessed batches."""

    def __init__(self, input_name: str, batches: Sequence[np.ndarray]) -> None:
        self.input_name = input_name
        self._it: Iterator[np.ndarray] = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._it, None)
        return None if batch is None else {self.input_name: batch}


def quantize_int8(model: Path, out: Path, frames: Sequence[np.ndarray] | None = None,
                  method: str = "minmax", per_channel: bool = True, float_head: bool = False) -> Path:
    """Write the int8 QDQ model of ``model`` to ``out`` (metadata kept); returns ``out``."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from detector.inference.config import ModelConfig
    from detector.inference.onnx import OnnxRuntimeBackend

    model, out = Path(model), Path(out)
    frames = list(frames) if frames is not None else calibration_frames()
    engine = OnnxRuntimeBackend(ModelConfig(path=str(model), backend="onnxruntime", max_batch=1))
    batches = [engine.preprocess([f])[0].copy() for f in frames]  # one frame per call: ranges per image
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(model), str(prepared), skip_symbolic_shape=True)  # dynamic H x W
        quantize_static(
            str(prepared), str(out), _Reader(engine.input.name, batches),
            quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            per_channel=per_channel, nodes_to_exclude=_head_nodes(prepared, float_head),
            calibrate_method={"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
                              "percentile": CalibrationMethod.Percentile}[method],
            extra_options={"CalibMovingAverage": method == "minmax"},
        )
    # the engines read names, size and version from the metadata: carry it over, and say what this is
    source, quantized = onnx.load(str(model)), onnx.load(str(out))
    del quantized.metadata_props[:]
    for prop in source.metadata_props:
        value = f"{prop.value}-int8" if prop.key == "frontage_version" else prop.value
        quantized.metadata_props.add(key=prop.key, value=value)
    quantized.metadata_props.add(key="quantization", value=f"int8 QDQ, {method}, {len(frames)} synthetic frames")
    onnx.save(quantized, str(out))
    log.info("int8 model %s (%.1f MB) from %s", out, out.stat().st_size / 1e6, model)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, help="float ONNX export (e.g. models/frontage-n.onnx)")
    parser.add_argument("out", type=Path, help="where to write the int8 model")
    parser.add_argument("--frames", type=int, default=48, help="calibration frames (generated street scenes)")
    parser.add_argument("--method", choices=("minmax", "entropy", "percentile"), default="minmax")
    parser.add_argument("--photos", type=Path, default=None,
                        help="also calibrate on photos of this folder (e.g. the real trash-bag *train* split)")
    parser.add_argument("--photo-count", type=int, default=32, help="photos taken from --photos")
    parser.add_argument("--float-head", action="store_true", help="keep the whole detection head in float")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    frames = calibration_frames(args.frames)
    if args.photos:
        frames += photo_frames(args.photos, args.photo_count)
    quantize_int8(args.model, args.out, frames, args.method, float_head=args.float_head)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
