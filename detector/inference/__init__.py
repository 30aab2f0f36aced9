"""Inference engines: one model instance, one ``infer(batch)`` for all cameras.

Engines are plugins behind one :class:`Backend` protocol (``registry``), each with its typed options in
``ModelConfig.backend`` (``config``):

* ``onnxruntime`` — ONNX Runtime, no torch: the edge image's engine (``onnx``).
* ``openvino`` — the OpenVINO runtime on the same .onnx, batched, f32 or bf16 (``openvino``).
* ``ultralytics`` — ``ultralytics.YOLO`` for ``.pt``, ``.onnx``, OpenVINO folders; fp16 on GPU (``ultralytics``).
* ``auto`` (default) — time the engines that read the file once per machine and model, keep the fastest
  that agrees with ONNX Runtime (``autoselect``).

The ONNX engines share letterbox, decode and NMS (``yolo``). Every backend returns
:class:`~detector.detections.Detections` in the pixels of the original frames.
"""

from detector.inference.config import (
    AutoOptions,
    BackendOptions,
    ModelConfig,
    OnnxRuntimeOptions,
    OpenVinoOptions,
    UltralyticsOptions,
)
from detector.inference.modelfile import file_sha256, metadata_imgsz
from detector.inference.protocol import Backend, InferenceError
from detector.inference.registry import BackendPlugin, get_plugin, load_backend, plugins, register_backend
from detector.inference.yolo import frame_gain

__all__ = [
    "AutoOptions", "Backend", "BackendOptions", "BackendPlugin", "InferenceError", "ModelConfig",
    "OnnxRuntimeOptions", "OpenVinoOptions", "UltralyticsOptions", "file_sha256", "frame_gain", "get_plugin",
    "load_backend", "metadata_imgsz", "plugins", "register_backend",
]
