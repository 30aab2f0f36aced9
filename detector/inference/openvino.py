"""OpenVINO backend: the OpenVINO runtime reads the .onnx itself (no torch, no export folder) and runs whole
batches; pre/post-processing is ONNX Runtime's (``detector.inference.yolo``), so the two differ only in the
runtime's arithmetic. The model's metadata comes from the ONNX file through OpenVINO's ``rt_info``.

``hint`` picks the CPU precision: ``bf16`` halves the time on CPUs with AVX512-BF16 or AMX (scores move by
about 0.01); ``auto`` leaves it to OpenVINO (bf16 only on AMX).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from detector.inference.config import ModelConfig, OpenVinoOptions
from detector.inference.protocol import InferenceError, first_line
from detector.inference.yolo import YoloExport

__all__ = ["OpenVinoBackend", "cpu_precisions"]


def cpu_precisions() -> tuple[str, ...]:
    """Precision hints this CPU runs natively (``f32`` always; ``bf16`` with AVX512-BF16 or AMX)."""
    import openvino as ov

    capabilities = set(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
    return ("f32", "bf16") if "BF16" in capabilities else ("f32",)


def _metadata(model: object) -> dict[str, str]:
    """The ONNX metadata_props, as OpenVINO's ONNX reader keeps them (``rt_info['framework']``)."""
    try:
        framework = model.get_rt_info()["framework"]  # type: ignore[attr-defined]
        return {str(k): framework[k].astype(str) for k in framework}
    except Exception:  # a model without metadata: class_names must come from the config
        return {}


class OpenVinoBackend(YoloExport):
    """A YOLO detector exported to ONNX, run with the OpenVINO runtime on the CPU."""

    backend = "openvino"

    def __init__(self, cfg: ModelConfig) -> None:
        options = cfg.backend if isinstance(cfg.backend, OpenVinoOptions) else OpenVinoOptions(
            threads=getattr(cfg.backend, "threads", 0))
        path = Path(cfg.path)
        try:
            import openvino as ov
        except ImportError:
            raise InferenceError("the openvino backend needs the `openvino` extra (pip install 'frontage[openvino]')") from None
        if cfg.device != "cpu":
            raise InferenceError(f"the openvino backend runs on the CPU, not {cfg.device}")
        properties: dict[str, object] = {"PERFORMANCE_HINT": "LATENCY"}  # one batch at a time, all cores on it
        if options.hint != "auto":
            properties["INFERENCE_PRECISION_HINT"] = options.hint
        if options.threads:
            properties["INFERENCE_NUM_THREADS"] = options.threads
        if options.streams:
            properties["NUM_STREAMS"] = options.streams
        try:
            core = ov.Core()
            model = core.read_model(str(path))
            port = model.input(0)
            shape = [d.get_length() if d.is_static else None for d in port.get_partial_shape()]
            dtype = np.float16 if port.get_element_type() == ov.Type.f16 else np.float32
            self.compiled = core.compile_model(model, "CPU", properties)
        except Exception as exc:
            raise InferenceError(f"cannot load model {path}: {first_line(exc)}") from None
        self.request = self.compiled.create_infer_request()
        precision = self.compiled.get_property("INFERENCE_PRECISION_HINT")  # what "auto" became on this CPU
        self.hint = precision.get_type_name() if hasattr(precision, "get_type_name") else str(precision)
        self._setup(cfg, path, _metadata(model), shape, dtype)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        # share_inputs: no copy of the batch array; the output is copied before the next call reuses it
        return self.request.infer({0: batch}, share_inputs=True)[self.compiled.output(0)].copy()
