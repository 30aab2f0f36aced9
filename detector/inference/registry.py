"""Engines as plugins: each registers a name, its options type, which model files it reads, whether its
runtime is installed, the option sets auto-selection should time, and how to load. ``load_backend`` looks
the configured engine up here (``auto`` goes through :mod:`detector.inference.autoselect`).

>>> [p.name for p in plugins()]
['onnxruntime', 'openvino', 'ultralytics']
>>> get_plugin("openvino").reads(Path("models/frontage-n.onnx")), get_plugin("openvino").reads(Path("m.pt"))
(True, False)
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from detector.inference.config import (
    AutoOptions,
    ModelConfig,
    OnnxRuntimeOptions,
    OpenVinoOptions,
    UltralyticsOptions,
)
from detector.inference.protocol import Backend, InferenceError


@dataclass(frozen=True)
class BackendPlugin:
    """One engine. ``load`` gets a ModelConfig whose ``backend`` is this plugin's options."""

    name: str
    options: type[BaseModel]
    load: Callable[[ModelConfig], Backend]
    suffixes: tuple[str, ...]  # model files it reads ("" = a folder)
    available: Callable[[], bool] = lambda: True
    variants: Callable[[ModelConfig], list[BaseModel]] = field(default=lambda cfg: [])  # what auto times
    timed: bool = True  # a candidate auto-selection times (ultralytics is only the .pt fallback)
    extra: str = ""  # the install extra that brings its runtime


    def reads(self, path: Path) -> bool:
        return ("" if path.is_dir() else path.suffix.lower()) in self.suffixes


_REGISTRY: dict[str, BackendPlugin] = {}


def register_backend(plugin: BackendPlugin) -> None:
    """Add (or replace) an engine; registry order is the order auto-selection tries them in."""
    _REGISTRY[plugin.name] = plugin


def unregister_backend(name: str) -> None:
    _REGISTRY.pop(name, None)


def plugins() -> list[BackendPlugin]:
    return list(_REGISTRY.values())


def get_plugin(name: str) -> BackendPlugin:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise InferenceError(f"unknown backend {name!r} (registered: {', '.join(_REGISTRY)})") from None


def _installed(module: str) -> Callable[[], bool]:
    return lambda: importlib.util.find_spec(module) is not None


# -- the built-in engines: imported only when chosen (torch stays out of the edge image) -----------------
def _load_onnxruntime(cfg: ModelConfig) -> Backend:
    from detector.inference.onnx import OnnxRuntimeBackend

    return OnnxRuntimeBackend(cfg)


def _thread_counts(cfg: ModelConfig) -> list[int]:
    """The thread counts auto times on a CPU: the runtime's default (every core) and, on a box of several
    cores, one thread. Auto ranks by CPU time per frame: one thread has no parallel overhead (measured on an idle
    2-core Zen 4: 57.2 vs 63.2 CPU ms per frame, BENCHMARKS.md §10), which is what a box of many cameras, or a file
    analysed alone, pays; its wall time per frame is longer (57 vs 36 ms)."""
    threads = getattr(cfg.backend, "threads", 0)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return [0, 1] if threads == 0 and cfg.device == "cpu" and cores > 1 else [threads]


def _onnxruntime_variants(cfg: ModelConfig) -> list[BaseModel]:
    threads = getattr(cfg.backend, "threads", 0)
    out: list[BaseModel] = [OnnxRuntimeOptions(threads=n) for n in _thread_counts(cfg)]
    if cfg.device.startswith("cuda"):
        import onnxruntime as ort

        if "TensorrtExecutionProvider" in ort.get_available_providers():
            out.append(OnnxRuntimeOptions(threads=threads, tensorrt=True))
    return out


def _load_openvino(cfg: ModelConfig) -> Backend:
    from detector.inference.openvino import OpenVinoBackend

    return OpenVinoBackend(cfg)


def _openvino_variants(cfg: ModelConfig) -> list[BaseModel]:
    if cfg.device != "cpu":
        return []
    from detector.inference.openvino import cpu_precisions

    # bf16 only when asked: it passes the box agreement yet changed an episode on real footage (AutoOptions)
    hints = cpu_precisions() if getattr(cfg.backend, "reduced_precision", False) else ("f32",)
    return [OpenVinoOptions(hint=hint, threads=n) for hint in hints for n in _thread_counts(cfg)]  # type: ignore[arg-type]


def _load_ultralytics(cfg: ModelConfig) -> Backend:
    from detector.inference.ultralytics import UltralyticsBackend

    return UltralyticsBackend(cfg)


register_backend(BackendPlugin("onnxruntime", OnnxRuntimeOptions, _load_onnxruntime, (".onnx",),
                               _installed("onnxruntime"), _onnxruntime_variants))
register_backend(BackendPlugin("openvino", OpenVinoOptions, _load_openvino, (".onnx",),
                               _installed("openvino"), _openvino_variants))
register_backend(BackendPlugin("ultralytics", UltralyticsOptions, _load_ultralytics, (".pt", ".onnx", ""),
                               _installed("ultralytics"), lambda cfg: [UltralyticsOptions()], timed=False,
                               extra="train"))


def load_backend(cfg: ModelConfig) -> Backend:
    """Load the configured engine; raises :class:`InferenceError` with one line on any problem."""
    if not Path(cfg.path).exists():
        raise InferenceError(f"cannot load model {cfg.path}: no such file")
    if isinstance(cfg.backend, AutoOptions):
        from detector.inference.autoselect import select_backend

        return select_backend(cfg).backend
    plugin = get_plugin(cfg.backend.type)
    if not plugin.available():
        raise InferenceError(f"the {plugin.name} backend is not installed (pip install 'frontage[{plugin.extra or plugin.name}]')")
    return plugin.load(cfg)
