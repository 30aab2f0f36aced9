"""`Detections`: the one type every stage after the model speaks.

Boxes are ``xyxy`` in pixels of the *original* frame; arrays are parallel and of equal length.

>>> import numpy as np
>>> d = Detections(xyxy=np.array([[10, 20, 50, 80]], dtype=np.float32),
...                confidence=np.array([0.9], dtype=np.float32),
...                class_id=np.array([3]), class_names=("person", "bicycle", "chair", "table"))
>>> len(d), d.names.tolist()
(1, ['table'])
>>> d.anchors("bottom_center").tolist()
[[30.0, 80.0]]
>>> len(d[d.confidence > 0.95])
0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

Anchor = Literal["bottom_center", "center"]


@dataclass(frozen=True)
class Detections:
    """Detected objects in one frame (supervision-style parallel numpy arrays)."""

    xyxy: np.ndarray  # (N, 4) float32, pixels
    confidence: np.ndarray  # (N,) float32
    class_id: np.ndarray  # (N,) int64, index into class_names
    class_names: tuple[str, ...] = ()
    tracker_id: np.ndarray | None = None  # (N,) int64, -1 where untracked
    data: dict[str, np.ndarray] = field(default_factory=dict)  # extra per-detection arrays (e.g. category)

    def __post_init__(self) -> None:
        n = len(self.xyxy)
        if self.xyxy.shape != (n, 4):
            raise ValueError(f"xyxy must be (N, 4), got {self.xyxy.shape}")
        if len(self.confidence) != n or len(self.class_id) != n:
            raise ValueError("xyxy, confidence and class_id must have equal length")
        if self.tracker_id is not None and len(self.tracker_id) != n:
            raise ValueError("tracker_id must match the number of detections")

    @classmethod
    def empty(cls, class_names: Sequence[str] = ()) -> Detections:
        return cls(
            xyxy=np.zeros((0, 4), np.float32),
            confidence=np.zeros((0,), np.float32),
            class_id=np.zeros((0,), np.int64),
            class_names=tuple(class_names),
        )

    @classmethod
    def from_ultralytics(cls, result: Any) -> Detections:
        """Adapter for one ``ultralytics.engine.results.Results``."""
        boxes = result.boxes
        names = result.names
        class_names = tuple(names[i] for i in sorted(names)) if isinstance(names, dict) else tuple(names)
        tracker_id = None
        if getattr(boxes, "id", None) is not None:
            tracker_id = boxes.id.cpu().numpy().astype(np.int64)
        return cls(
            xyxy=boxes.xyxy.cpu().numpy().astype(np.float32).reshape(-1, 4),
            confidence=boxes.conf.cpu().numpy().astype(np.float32),
            class_id=boxes.cls.cpu().numpy().astype(np.int64),
            class_names=class_names,
            tracker_id=tracker_id,
        )

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: Any) -> Detections:
        """Select by boolean mask, index array or slice; keeps the class names."""
        if isinstance(index, int | np.integer):
            index = [int(index)]
        return replace(
            self,
            xyxy=self.xyxy[index].reshape(-1, 4),
            confidence=self.confidence[index].reshape(-1),
            class_id=self.class_id[index].reshape(-1),
            tracker_id=None if self.tracker_id is None else self.tracker_id[index].reshape(-1),
            data={k: v[index].reshape(-1) for k, v in self.data.items()},
        )

    @property
    def names(self) -> np.ndarray:
        """Class name of each detection."""
        if not len(self):
            return np.array([], dtype=object)
        return np.array([self.class_names[i] for i in self.class_id], dtype=object)

    def anchors(self, anchor: Anchor = "bottom_center") -> np.ndarray:
        """(N, 2) points that decide which zone a detection stands in; bottom-centre = where it touches the ground."""
        x = (self.xyxy[:, 0] + self.xyxy[:, 2]) / 2
        y = self.xyxy[:, 3] if anchor == "bottom_center" else (self.xyxy[:, 1] + self.xyxy[:, 3]) / 2
        return np.stack([x, y], axis=1).astype(np.float32)

    def with_tracker_ids(self, tracker_id: np.ndarray) -> Detections:
        return replace(self, tracker_id=np.asarray(tracker_id, dtype=np.int64))

    def with_data(self, **arrays: np.ndarray) -> Detections:
        return replace(self, data={**self.data, **arrays})

    def without_cross_class_duplicates(self, iou: float) -> Detections:
        """Drop each box that overlaps a higher-scoring box of *another* class by more than ``iou``.

        Class-aware NMS keeps one object read as two classes twice (stacked boxes also scored, lower, as a goods
        display): two categories, two episodes, for one thing. Same-class boxes are left to the NMS before.

        >>> d = Detections(xyxy=np.array([[0, 0, 10, 10], [0, 0, 10, 9], [20, 0, 30, 10]], np.float32),
        ...                confidence=np.array([0.7, 0.3, 0.5], np.float32), class_id=np.array([0, 1, 1]),
        ...                class_names=("stacked_materials", "goods_display"))
        >>> d.without_cross_class_duplicates(0.8).confidence.tolist()
        [0.699999988079071, 0.5]
        """
        if len(self) < 2 or iou >= 1.0 or (self.class_id == self.class_id[0]).all():  # the common frame: one class
            return self
        x1, y1, x2, y2 = self.xyxy.T
        areas = (x2 - x1).clip(0) * (y2 - y1).clip(0)
        inter = ((np.minimum(x2[:, None], x2) - np.maximum(x1[:, None], x1)).clip(0)
                 * (np.minimum(y2[:, None], y2) - np.maximum(y1[:, None], y1)).clip(0))
        overlap = inter / (areas[:, None] + areas - inter + 1e-9)
        keep = np.ones(len(self), bool)
        for i in np.argsort(-self.confidence, kind="stable"):
            if keep[i]:
                dup = (overlap[i] > iou) & (self.class_id != self.class_id[i]) & (self.confidence <= self.confidence[i])
                dup[i] = False
                keep &= ~dup
        return self if keep.all() else self[keep]

    @staticmethod
    def merge(items: Sequence[Detections]) -> Detections:
        items = [d for d in items if len(d)]
        if not items:
            return Detections.empty()
        first = items[0]
        return Detections(
            xyxy=np.concatenate([d.xyxy for d in items]),
            confidence=np.concatenate([d.confidence for d in items]),
            class_id=np.concatenate([d.class_id for d in items]),
            class_names=first.class_names,
        )
