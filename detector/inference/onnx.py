"""ONNX Runtime backend: the shared YOLO pre/post-processing (``detector.inference.yolo``) around one
``session.run`` per batch. CPU by default; CUDA (and TensorRT, if asked) when ``device`` is cuda and the
provider is installed.

Must not import torch or ultralytics (the edge image has neither); a test checks ``sys.modules``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from detector.inference.config import ModelConfig, OnnxRuntimeOptions
from detector.inference.protocol import InferenceError, first_line
from detector.inference.yolo import YoloExport, canvas_size, letterbox_geometry, nms_class_aware

__all__ = ["OnnxRuntimeBackend", "canvas_size", "letterbox_geometry", "nms_class_aware", "providers_for"]


def providers_for(device: str, tensorrt: bool = False) -> list[object]:
    """Execution providers for ``device``: CPU, or CUDA (TensorRT first if asked) when installed."""
    available = ort.get_available_providers()
    if not device.startswith("cuda") or "CUDAExecutionProvider" not in available:
        return ["CPUExecutionProvider"]
    device_id = int(device.split(":")[1]) if ":" in device else 0
    providers: list[object] = [("CUDAExecutionProvider", {"device_id": device_id}), "CPUExecutionProvider"]
    if tensorrt and "TensorrtExecutionProvider" in available:
        providers.insert(0, ("TensorrtExecutionProvider", {"device_id": device_id}))
    return providers


class OnnxRuntimeBackend(YoloExport):
    """A YOLO detector exported to ONNX, run with ONNX Runtime."""

    backend = "onnxruntime"

    def __init__(self, cfg: ModelConfig) -> None:
        options = cfg.backend if isinstance(cfg.backend, OnnxRuntimeOptions) else OnnxRuntimeOptions()
        path = Path(cfg.path)
        session_options = ort.SessionOptions()
        threads = getattr(cfg.backend, "threads", 0)  # auto passes its own on to the engine it picks
        if threads:
            session_options.intra_op_num_threads = threads
        session_options.log_severity_level = 3  # the int8 model's warnings are noise
        # Busy-waiting worker threads steal the cores decode and the rest of the edge need
        # (bench/breakdown.py: 60 -> 32 ms/frame on a loaded 2-core box).
        session_options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(path), sess_options=session_options,
                                                providers=providers_for(cfg.device, options.tensorrt))
        except Exception as exc:
            raise InferenceError(f"cannot load model {path}: {first_line(exc)}") from None
        self.input = self.session.get_inputs()[0]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self._setup(cfg, path, dict(self.session.get_modelmeta().custom_metadata_map), self.input.shape,
                    np.float16 if "float16" in self.input.type else np.float32)
        self.providers = self.session.get_providers()

    def _run(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(self.output_names[:1], {self.input.name: batch})[0]
