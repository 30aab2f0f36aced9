"""Known objects: things an operator said are "not a violation here" (a phone booth, a poster), remembered
per zone in the zones file, so the same thing in the same place never opens an episode again while a new
object in that place still does.

```yaml
zones:
  - id: z-m0012
    ...
    known_objects:
      - id: k-1742                       # unique in the zone
        category: exposed_garbage
        class_name: trash_bag            # what the model called it (optional: then any class of the category)
        box: [0.21, 0.66, 0.27, 0.78]    # normalised xyxy where it stands
        signature: [0.0, 0.12, ...]      # optional: 64-bin colour histogram of its crop (sums to 1)
        note: "phone booth"              # optional
```

A detection is the known object when it has the same category (and class, when given), overlaps the box
(IoU >= `MATCH_IOU`, or lies inside it: `MATCH_INSIDE`, a part of it the model boxed too) and, when both have a colour signature, looks alike (histogram intersection >=
`MATCH_SIGNATURE`). numpy only: the case service computes the same signature from the evidence frame.

>>> import numpy as np
>>> img = np.zeros((100, 100, 3), np.uint8); img[20:60, 20:60] = (0, 0, 255)  # a red square (BGR)
>>> sig = signature(img, (20, 20, 60, 60))
>>> round(sum(sig), 6), round(similarity(sig, signature(img, (22, 22, 58, 58))), 3)
(1.0, 1.0)
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from detector.categories import Category

MATCH_IOU = 0.5
MATCH_INSIDE = 0.8  # a box this much inside the known one is a part of it (the model also boxes its parts)
MATCH_SIGNATURE = 0.6
BINS = 4  # per colour channel: 4 x 4 x 4 = 64 bins


class KnownObject(BaseModel):
    """One remembered object of a zone (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(title="Id", description="Unique within the zone", pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    category: Annotated[Category, Field(title="Category", description="The category it was detected as")]
    class_name: Annotated[str | None, Field(title="Model class", description="What the model called it; none: "
                                            "any class of the category", max_length=100)] = None
    box: Annotated[tuple[float, float, float, float], Field(title="Box", description="Normalised x1, y1, x2, y2 "
                                                            "(0-1) where it stands")]
    signature: Annotated[list[float] | None, Field(title="Signature", description="64-bin colour histogram of "
                                                   "its crop (sums to 1); none: box and class alone")] = None
    note: Annotated[str | None, Field(title="Note", description="What it is, for the operator", max_length=200)] = None
    remembered_at: Annotated[datetime | None, Field(title="Remembered at", description="When an operator "
                                                    "said so")] = None
    case: Annotated[int | None, Field(title="Case", description="The rejected case it came from", ge=1)] = None

    @field_validator("box")
    @classmethod
    def _box(cls, v: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        x1, y1, x2, y2 = v
        if not all(0.0 <= c <= 1.0 for c in v):
            raise ValueError("box coordinates are normalised to 0-1")
        if not (x1 < x2 and y1 < y2):
            raise ValueError("box needs x1 < x2 and y1 < y2")
        return v

    @field_validator("signature")
    @classmethod
    def _signature(cls, v: list[float] | None) -> list[float] | None:
        if v is None:
            return v
        if len(v) != BINS**3 or any(x < 0 for x in v) or not 0.99 <= sum(v) <= 1.01:
            raise ValueError(f"signature must be {BINS**3} non-negative values summing to 1")
        return v


def signature(image: np.ndarray, box_px: tuple[float, float, float, float]) -> list[float]:
    """64-bin joint colour histogram (BGR, 4 levels a channel) of the box's inner part, summing to 1."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = box_px
    # the inner 80 %: the box's edges hold the background the detector included
    dx, dy = (x2 - x1) * 0.1, (y2 - y1) * 0.1
    xa, xb = int(max(0, min(w - 1, x1 + dx))), int(max(1, min(w, x2 - dx)))
    ya, yb = int(max(0, min(h - 1, y1 + dy))), int(max(1, min(h, y2 - dy)))
    crop = image[ya:max(yb, ya + 1), xa:max(xb, xa + 1)].reshape(-1, 3).astype(np.int32) * BINS // 256
    hist = np.bincount(crop[:, 0] * BINS * BINS + crop[:, 1] * BINS + crop[:, 2], minlength=BINS**3)
    total = hist.sum()
    return [round(float(v), 5) for v in (hist / total if total else hist)]


def similarity(a: list[float], b: list[float]) -> float:
    """Histogram intersection: 1 same colours, 0 none in common."""
    return float(np.minimum(np.asarray(a), np.asarray(b)).sum())


def _overlap(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(IoU, share of each box inside ``b``) of boxes ``a`` (N x 4) with one box ``b`` (4,)."""
    ix = np.clip(np.minimum(a[:, 2], b[2]) - np.maximum(a[:, 0], b[0]), 0, None)
    iy = np.clip(np.minimum(a[:, 3], b[3]) - np.maximum(a[:, 1], b[1]), 0, None)
    inter = ix * iy
    area = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    union = area + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / np.maximum(union, 1e-9), inter / np.maximum(area, 1e-9)


def known_mask(xyxy: np.ndarray, categories: np.ndarray, names: np.ndarray, known: list[KnownObject],
               frame_wh: tuple[int, int], image: np.ndarray | None = None) -> np.ndarray:
    """Which detections (pixel ``xyxy``, their categories and class names) are one of the ``known`` objects."""
    n = len(xyxy)
    mask = np.zeros(n, bool)
    if not n or not known:
        return mask
    w, h = frame_wh
    boxes = np.asarray(xyxy, np.float64) / np.array([w, h, w, h], np.float64)
    for obj in known:
        iou, inside = _overlap(boxes, np.asarray(obj.box))
        candidates = (categories == str(obj.category)) & ((iou >= MATCH_IOU) | (inside >= MATCH_INSIDE))
        if obj.class_name is not None:
            candidates &= names == obj.class_name
        for i in np.flatnonzero(candidates & ~mask):
            if (obj.signature is not None and image is not None
                    and similarity(obj.signature, signature(image, tuple(xyxy[i]))) < MATCH_SIGNATURE):
                continue  # a new object in that place: it still counts
            mask[i] = True
    return mask
