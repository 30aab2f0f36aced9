"""YOLO label files: polygon -> box, pixel boxes <-> normalised lines.

>>> polygon_to_box([0.1, 0.2, 0.5, 0.1, 0.4, 0.6])
(0.1, 0.1, 0.5, 0.6)
>>> yolo_line(3, (10, 20, 50, 80), 100, 100)
'3 0.300000 0.500000 0.400000 0.600000'
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def polygon_to_box(coords: list[float]) -> tuple[float, float, float, float]:
    """Flat normalised polygon ``x1 y1 x2 y2 ...`` -> (x0, y0, x1, y1), clipped to 0-1."""
    if len(coords) < 6 or len(coords) % 2:
        raise ValueError(f"a polygon needs an even number (>= 6) of coordinates, got {len(coords)}")
    xs = np.clip(np.asarray(coords[0::2], dtype=np.float64), 0, 1)
    ys = np.clip(np.asarray(coords[1::2], dtype=np.float64), 0, 1)
    return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())


def read_polygon_labels(path: Path) -> list[tuple[int, list[float]]]:
    """Roboflow segmentation labels: ``cls x1 y1 x2 y2 ...`` per line (a 5-number line is already a box)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if not parts:
            continue
        cls = int(float(parts[0]))
        nums = [float(v) for v in parts[1:]]
        if len(nums) == 4:  # cx cy w h box: turn into its 4-corner polygon
            cx, cy, w, h = nums
            nums = [cx - w / 2, cy - h / 2, cx + w / 2, cy - h / 2, cx + w / 2, cy + h / 2, cx - w / 2, cy + h / 2]
        out.append((cls, nums))
    return out


def yolo_line(cls: int, xyxy: tuple[float, float, float, float] | np.ndarray, width: int, height: int) -> str:
    """Pixel box -> ``cls cx cy w h`` normalised to the image."""
    x0, y0, x1, y1 = (float(v) for v in xyxy)
    x0, x1 = max(0.0, min(x0, width)), max(0.0, min(x1, width))
    y0, y1 = max(0.0, min(y0, height)), max(0.0, min(y1, height))
    return (
        f"{cls} {(x0 + x1) / 2 / width:.6f} {(y0 + y1) / 2 / height:.6f} "
        f"{(x1 - x0) / width:.6f} {(y1 - y0) / height:.6f}"
    )


def read_yolo_labels(path: Path, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Box label file -> (class ids (N,), pixel xyxy (N, 4)). Missing file = no objects."""
    if not path.exists():
        return np.zeros((0,), np.int64), np.zeros((0, 4), np.float32)
    rows = [line.split() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not rows:
        return np.zeros((0,), np.int64), np.zeros((0, 4), np.float32)
    arr = np.array([[float(v) for v in r[:5]] for r in rows], dtype=np.float64)
    cx, cy, w, h = arr[:, 1] * width, arr[:, 2] * height, arr[:, 3] * width, arr[:, 4] * height
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)
    return arr[:, 0].astype(np.int64), xyxy
