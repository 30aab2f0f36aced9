"""What every inference engine is to the rest of the edge: the :class:`Backend` protocol and its one error."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from detector.detections import Detections


class InferenceError(Exception):
    """A model cannot be loaded or run; one clear line."""


@runtime_checkable
class Backend(Protocol):
    """One loaded model on one engine. The batcher and the pipelines read these attributes directly."""

    name: str  # model name (file stem)
    version: str  # the model's own version (Frontage exports stamp it), else the exporter's
    sha256: str | None  # of the model file(s), for events and reload checks
    backend: str  # engine name: "onnxruntime", "openvino", "ultralytics"
    class_names: tuple[str, ...]
    max_batch: int  # most frames one runtime call takes (infer splits longer lists)
    imgsz: int  # long side of the network input

    def input_size(self, images: Sequence[np.ndarray]) -> tuple[int, int]:
        """(H, W) of the canvas these frames letterbox into together: frames with equal canvases batch
        without padding."""
        ...

    def infer(self, images: Sequence[np.ndarray]) -> list[Detections]:
        """BGR uint8 frames of any sizes -> one Detections per frame, boxes in that frame's pixels."""
        ...


def first_line(exc: BaseException, limit: int = 200) -> str:
    """An engine's exception as one short line (runtimes raise pages of C++ context)."""
    return ((str(exc).strip().splitlines() or [type(exc).__name__])[0])[:limit]
