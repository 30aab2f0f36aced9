"""Do two engines find the same things? Auto-selection's check, and the backend-agreement tests'."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from detector.detections import Detections
from detector.rules import box_iou


def matched(a: Detections, b: Detections, score_tol: float = 0.02) -> int:
    """Detections of ``a`` with a same-class box in ``b`` at IoU >= 0.9 and a score within ``score_tol``."""
    if not len(a) or not len(b):
        return 0
    same = (a.class_id[:, None] == b.class_id[None, :]) & (box_iou(a.xyxy, b.xyxy) >= 0.9)
    close = np.abs(a.confidence[:, None] - b.confidence[None, :]) <= score_tol
    return int(np.count_nonzero((same & close).any(axis=1)))


def agreement(a: Sequence[Detections], b: Sequence[Detections], score_tol: float) -> float:
    """Share of all of ``a``'s boxes (frame by frame) that :func:`matched` finds in ``b``."""
    total = sum(len(d) for d in a)
    hits = sum(matched(x, y, score_tol) for x, y in zip(a, b, strict=True))
    return hits / max(total, 1)


def mutual_agreement(a: Sequence[Detections], b: Sequence[Detections], score_tol: float) -> float:
    """The lower of both directions' :func:`agreement`; 1.0 when neither finds anything.

    >>> none = [Detections.empty(("bag",))]
    >>> mutual_agreement(none, none, 0.03)
    1.0
    """
    if not sum(len(d) for d in a) and not sum(len(d) for d in b):
        return 1.0
    return min(agreement(a, b, score_tol), agreement(b, a, score_tol))
