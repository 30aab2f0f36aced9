"""The ``model:`` block of edge.yaml: common fields, and ``backend:`` — one typed block per engine.

``backend`` is a discriminated union on ``type``; a plain string is shorthand for that engine's defaults,
so older files (``backend: onnxruntime``) keep working, as do the old top-level ``threads`` and ``half``:

>>> ModelConfig(path="m.onnx", backend="openvino").backend
OpenVinoOptions(type='openvino', hint='auto', threads=0, streams=0)
>>> ModelConfig(path="m.onnx", threads=2).backend.threads
2
>>> ModelConfig(path="m.onnx", backend={"type": "ultralytics", "half": True}).backend.half
True
>>> cfg = ModelConfig(path="models/frontage-n.onnx", class_conf={"trash_bag": 0.4})
>>> cfg.backend.type, cfg.threshold_for("trash_bag"), cfg.threshold_for("chair")
('auto', 0.4, 0.25)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class OnnxRuntimeOptions(_Strict):
    """ONNX Runtime (no torch): CPU, or CUDA / TensorRT when ``device`` is cuda and the provider is installed."""

    type: Literal["onnxruntime"] = Field("onnxruntime", title="Engine", description="ONNX Runtime")
    threads: int = Field(0, ge=0, le=256, title="CPU threads", description="Intra-op threads; 0 = runtime default")
    tensorrt: bool = Field(
        False, title="TensorRT",
        description="On cuda, put the TensorRT execution provider before CUDA when ONNX Runtime has it")


class OpenVinoOptions(_Strict):
    """OpenVINO runtime reading the .onnx directly (no torch, no export step), batched like ONNX Runtime."""

    type: Literal["openvino"] = Field("openvino", title="Engine", description="OpenVINO runtime")
    hint: Literal["auto", "f32", "bf16", "f16"] = Field(
        "auto", title="Precision hint",
        description="CPU inference precision: auto = OpenVINO's default for this CPU (bf16 where it has AVX512-BF16 "
        "or AMX, else f32); f32 = as ONNX Runtime; bf16 = about 2x faster on such CPUs, scores move ~0.01")
    threads: int = Field(0, ge=0, le=256, title="CPU threads", description="Inference threads; 0 = runtime default")
    streams: int = Field(0, ge=0, le=64, title="Streams",
                         description="Parallel inference streams; 0 = one (latency: one batch at a time)")


class UltralyticsOptions(_Strict):
    """``ultralytics.YOLO`` on torch (.pt), or its own .onnx / OpenVINO-folder loaders (needs the train extra)."""

    type: Literal["ultralytics"] = Field("ultralytics", title="Engine", description="ultralytics (torch)")
    half: bool = Field(False, title="FP16", description="Half precision (GPU only)")


class AutoOptions(_Strict):
    """Time the engines that can run this model on this machine once, then use the fastest that agrees."""

    type: Literal["auto"] = Field("auto", title="Engine", description="Choose by measurement")
    measure: bool = Field(
        True, title="Measure",
        description="Time the candidate engines on the model (once per CPU/GPU and model hash, cached). False: "
        "the first engine that loads, in registry order (ONNX Runtime for .onnx, ultralytics for .pt)")
    candidates: list[str] | None = Field(
        None, title="Candidates",
        description="Engine names to consider, the reference first (default: every registered engine that can "
        "read the file, ONNX Runtime first)")
    cache_file: str | None = Field(
        None, title="Measurement cache",
        description="JSON file keeping the measurements; default $FRONTAGE_DATA_DIR/engines.json, else "
        "~/.cache/frontage/engines.json")
    min_agreement: float = Field(
        0.9, ge=0.0, le=1.0, title="Minimum agreement",
        description="Share of the reference engine's boxes a candidate must reproduce (same class, IoU >= 0.9, "
        "score within 0.03), both ways, to be chosen")
    reduced_precision: bool = Field(
        False, title="Reduced precision",
        description="Also time OpenVINO at bf16 on CPUs that run it natively (AVX512-BF16, AMX): about 1.5x less CPU "
        "per frame, boxes within the agreement check, but scores move by ~0.01 and on the real GIF clip of "
        "../shared it opened a false parked-bike episode that f32 does not (BENCHMARKS.md). Off: f32 engines only")
    threads: int = Field(0, ge=0, le=256, title="CPU threads", description="Passed to the chosen engine; 0 = default")


BackendOptions = Annotated[
    OnnxRuntimeOptions | OpenVinoOptions | UltralyticsOptions | AutoOptions, Field(discriminator="type")
]


class ModelConfig(_Strict):
    """Which model to run and how (the ``model:`` block of edge.yaml)."""

    path: str = Field(title="Model path", description="An .onnx file, a .pt file or an OpenVINO model folder")
    backend: BackendOptions = Field(
        default_factory=AutoOptions, title="Backend",
        description="The engine and its options: {type: auto|onnxruntime|openvino|ultralytics, ...}, or just "
        "the engine's name. auto (default) times the engines once and keeps the fastest that agrees")
    imgsz: int | None = Field(
        None, ge=32, le=4096, title="Input size",
        description="Long side of the network input in pixels; default: the size the model was trained at "
        "(its `imgsz` metadata, else 640). Fixed-shape ONNX models always use their own.",
    )
    rect: bool = Field(
        True, title="Rectangular letterbox",
        description="Letterbox into the smallest stride-aligned rectangle (320x192 for a 16:9 camera at 320) "
        "instead of a square, when the model accepts any height and width: 1.67x fewer pixels for 16:9",
    )
    upscale: bool = Field(
        False, title="Upscale small frames",
        description="Enlarge frames whose long side is below the input size. Off: such a frame runs at its own "
        "size (a 480x270 camera stays 480 wide under a 640 model): enlarging adds no detail, costs CPU and "
        "makes the model see objects at a scale it was not trained on",
    )
    conf: float = Field(0.25, ge=0.0, le=1.0, title="Confidence", description="Default minimum score")
    class_conf: dict[str, float] = Field(
        default_factory=dict, title="Per-class confidence",
        description="Minimum score per class name, overriding `conf` (e.g. {trash_bag: 0.4})",
    )
    iou: float = Field(0.7, ge=0.0, le=1.0, title="NMS IoU", description="IoU above which boxes of a class merge")
    cross_class_iou: float = Field(
        0.8, ge=0.0, le=1.0, title="Cross-class duplicate IoU",
        description="A box overlapping a higher-scoring box of another class by more than this is the same object "
        "read twice (stacked boxes also scored as goods) and is dropped; 1 keeps both",
    )
    max_det: int = Field(300, ge=1, le=10000, title="Max detections", description="Per image, after NMS")
    device: str = Field("cpu", title="Device", description="cpu, cuda:0, ... (ONNX Runtime uses CUDA if available)")
    max_batch: int = Field(8, ge=1, le=256, title="Max batch", description="Most frames per infer call")
    class_names: list[str] | None = Field(
        None, title="Class names",
        description="Override of the model's own class names (needed when the ONNX file lacks `names` metadata)",
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, data: Any) -> Any:
        """``backend: NAME`` -> ``{type: NAME}``; the old top-level ``threads``/``half`` move into it."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        backend = data.get("backend", "auto")
        if isinstance(backend, str):
            backend = {"type": backend}
        legacy = {k: data.pop(k) for k in ("threads", "half") if k in data}
        if legacy and isinstance(backend, dict):
            kind = backend.get("type", "auto")
            # each old field goes to the engine that has it; elsewhere it never had an effect
            wanted = {"threads": {"onnxruntime", "openvino", "auto"}, "half": {"ultralytics"}}
            backend = {**{k: v for k, v in legacy.items() if kind in wanted[k]}, **backend}
        data["backend"] = backend
        return data

    def threshold_for(self, name: str) -> float:
        return self.class_conf.get(name, self.conf)

    def thresholds(self, class_names: Sequence[str]) -> np.ndarray:
        """Per-class minimum scores as an array indexed by class id."""
        return np.array([self.threshold_for(n) for n in class_names], dtype=np.float32)

    def with_backend(self, options: BaseModel) -> ModelConfig:
        """The same model settings on another engine (auto-selection loads each candidate so)."""
        return self.model_copy(update={"backend": options})
