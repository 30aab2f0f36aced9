"""Inference backends: one model instance, one ``infer(batch)`` for all cameras.

>>> cfg = ModelConfig(path="models/frontage-n.onnx", class_conf={"trash_bag": 0.4})
>>> cfg.resolved_backend(), cfg.threshold_for("trash_bag"), cfg.threshold_for("chair")
('onnxruntime', 0.4, 0.25)

Backends (``backend`` in the config):

* ``onnxruntime`` — plain ONNX Runtime, no torch: the edge image's backend (``detector.inference.onnx``).
* ``ultralytics`` — ``ultralytics.YOLO`` for ``.pt``, ``.onnx``, OpenVINO folders; fp16 and big batches on GPU.
* ``auto`` — onnxruntime for ``.onnx`` files, ultralytics for everything else.

Every backend returns :class:`~detector.detections.Detections` in the pixels of the original frames.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from detector.detections import Detections


class InferenceError(Exception):
    """A model cannot be loaded or run; one clear line."""


class ModelConfig(BaseModel):
    """Which model to run and how (the ``model:`` block of edge.yaml)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    path: str = Field(title="Model path", description="An .onnx file, a .pt file or an OpenVINO model folder")
    backend: Literal["auto", "onnxruntime", "ultralytics"] = Field(
        "auto", title="Backend", description="auto: onnxruntime for .onnx, ultralytics otherwise"
    )
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
    device: str = Field("cpu", title="Device", description="cpu, cuda:0, ... (onnxruntime uses CUDA if available)")
    half: bool = Field(False, title="FP16", description="Half precision (GPU only, ultralytics backend)")
    max_batch: int = Field(8, ge=1, le=256, title="Max batch", description="Most frames per infer call")
    class_names: list[str] | None = Field(
        None, title="Class names",
        description="Override of the model's own class names (needed when the ONNX file lacks `names` metadata)",
    )
    threads: int = Field(0, ge=0, le=256, title="CPU threads", description="Intra-op threads; 0 = runtime default")

    def resolved_backend(self) -> Literal["onnxruntime", "ultralytics"]:
        if self.backend != "auto":
            return self.backend
        return "onnxruntime" if self.path.lower().endswith(".onnx") else "ultralytics"

    def threshold_for(self, name: str) -> float:
        return self.class_conf.get(name, self.conf)

    def thresholds(self, class_names: Sequence[str]) -> np.ndarray:
        """Per-class minimum scores as an array indexed by class id."""
        return np.array([self.threshold_for(n) for n in class_names], dtype=np.float32)


@runtime_checkable
class Backend(Protocol):
    class_names: tuple[str, ...]
    name: str  # model name (file stem)
    version: str
    sha256: str | None
    backend: str  # "onnxruntime" / "ultralytics"
    max_batch: int

    def infer(self, images: Sequence[np.ndarray]) -> list[Detections]:
        """BGR uint8 frames of any sizes -> one Detections per frame, boxes in that frame's pixels."""
        ...


def file_sha256(path: str | Path) -> str | None:
    """sha256 of a model file (of the .xml+.bin pair for an OpenVINO folder); None if unreadable."""
    p = Path(path)
    h = hashlib.sha256()
    files = sorted(p.glob("*.xml")) + sorted(p.glob("*.bin")) if p.is_dir() else [p]
    try:
        for f in files:
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    except OSError:
        return None
    return h.hexdigest() if files else None


def frame_gain(h: int, w: int, imgsz: int, upscale: bool) -> float:
    """Scale that brings a frame's long side to ``imgsz`` (never above 1 unless ``upscale``).

    >>> frame_gain(720, 1280, 640, False), frame_gain(270, 480, 640, False), frame_gain(270, 480, 640, True)
    (0.5, 1.0, 1.3333333333333333)
    """
    gain = imgsz / max(h, w)
    return gain if upscale else min(1.0, gain)


def metadata_imgsz(meta: dict[str, str]) -> int | None:
    """Long side of ultralytics' ``imgsz`` metadata (``[320, 320]`` or ``320``), if present."""
    try:
        value = ast.literal_eval(meta["imgsz"])
    except (KeyError, ValueError, SyntaxError):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, int) for v in value):
        return max(value)
    return None


def load_backend(cfg: ModelConfig) -> Backend:
    """Load the configured backend; raises :class:`InferenceError` with one line on any problem."""
    if not Path(cfg.path).exists():
        raise InferenceError(f"cannot load model {cfg.path}: no such file")
    if cfg.resolved_backend() == "onnxruntime":
        from detector.inference.onnx import OnnxRuntimeBackend

        return OnnxRuntimeBackend(cfg)
    from detector.inference.ultralytics import UltralyticsBackend

    return UltralyticsBackend(cfg)


__all__ = ["Backend", "InferenceError", "ModelConfig", "file_sha256", "frame_gain", "load_backend", "metadata_imgsz"]
