"""Copy-paste composites: cut-out objects pasted onto real pavement frames and generated streets.

Scale follows the perspective of a street camera (an object standing higher in the image is farther
away, so it is drawn smaller), every paste gets a soft contact shadow, and the label box is the box of
the pixels that are really visible after pasting (clipped to the image).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from detector.training.labels import read_polygon_labels


@dataclass
class Cutout:
    """A BGRA object image (alpha 0 outside the object) and its frontage-n class name."""

    image: np.ndarray
    class_name: str


def cutouts_from_polygons(image: np.ndarray, polygons: list[list[float]], class_name: str,
                          min_px: int = 24) -> list[Cutout]:
    """Cut each normalised polygon out of ``image`` as a tight BGRA crop (feathered alpha)."""
    h, w = image.shape[:2]
    out = []
    for coords in polygons:
        pts = np.array(coords, dtype=np.float64).reshape(-1, 2) * [w, h]
        pts = np.round(pts).astype(np.int32)
        x0, y0 = pts.min(0).clip(0)
        x1, y1 = pts.max(0) + 1
        x1, y1 = min(x1, w), min(y1, h)
        if x1 - x0 < min_px or y1 - y0 < min_px:
            continue
        mask = np.zeros((h, w), np.uint8)
        cv2.fillPoly(mask, [pts], 255)
        crop = np.dstack([image[y0:y1, x0:x1], mask[y0:y1, x0:x1]])
        if (crop[:, :, 3] > 0).mean() < 0.3:  # thin slivers make poor cut-outs
            continue
        out.append(Cutout(crop, class_name))
    return out


def bag_cutouts(bag_dir: Path, names: list[str], rng: np.random.Generator, limit: int) -> list[Cutout]:
    """Cut-outs of real trash bags from Roboflow polygon labels (both bag classes -> ``trash_bag``)."""
    images = sorted((bag_dir / "images").glob("*.jpg"))
    rng.shuffle(images)
    cuts: list[Cutout] = []
    for img_path in images:
        if len(cuts) >= limit:
            break
        label = bag_dir / "labels" / (img_path.stem + ".txt")
        if not label.exists():
            continue
        polys = [p for _, p in read_polygon_labels(label) if len(p) >= 6]
        if not polys:
            continue
        image = cv2.imread(str(img_path))
        if image is None:
            continue
        cuts.extend(cutouts_from_polygons(image, polys, "trash_bag"))
    return cuts[:limit]


def _soft_shadow(frame: np.ndarray, cx: float, bottom: float, width: float, strength: float) -> None:
    """Darken a blurred ellipse where the object meets the ground."""
    h, w = frame.shape[:2]
    rx, ry = max(2.0, width * 0.6), max(1.5, width * 0.12)
    pad = int(rx + 3 * ry + 4)
    x0, x1 = max(0, int(cx - pad)), min(w, int(cx + pad))
    y0, y1 = max(0, int(bottom - 2 * ry - 4)), min(h, int(bottom + 3 * ry + 4))
    if x1 <= x0 or y1 <= y0:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.float32)
    cv2.ellipse(mask, (int(cx - x0), int(bottom - y0)), (int(rx), int(ry)), 0, 0, 360, 1.0, -1)
    k = max(3, int(ry * 2) | 1)
    mask = cv2.GaussianBlur(mask, (k, k), 0) * strength
    region = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = (region * (1 - mask[:, :, None])).astype(np.uint8)


def perspective_height(bottom_y: float, frame_h: int, horizon_frac: float, near_height_frac: float) -> float:
    """Object height in pixels for a ground contact at ``bottom_y``: grows linearly below the horizon.

    >>> round(perspective_height(720, 720, 0.3, 0.4))
    288
    >>> perspective_height(300, 720, 0.3, 0.4) < perspective_height(600, 720, 0.3, 0.4)
    True
    """
    horizon = horizon_frac * frame_h
    depth = max(0.05, (bottom_y - horizon) / (frame_h - horizon))
    return depth * near_height_frac * frame_h


def paste(frame: np.ndarray, cut: np.ndarray, x0: int, y0: int, rng: np.random.Generator,
          shadow: bool = True) -> tuple[np.ndarray, tuple[float, float, float, float] | None]:
    """Alpha-blend BGRA ``cut`` at (x0, y0). Returns (pasted alpha mask of the frame, visible box or None)."""
    h, w = frame.shape[:2]
    ch, cw = cut.shape[:2]
    fx0, fy0, fx1, fy1 = max(0, x0), max(0, y0), min(w, x0 + cw), min(h, y0 + ch)
    full = np.zeros((h, w), np.float32)
    if fx1 <= fx0 or fy1 <= fy0:
        return full, None
    if shadow:
        _soft_shadow(frame, x0 + cw / 2, y0 + ch * 0.98, cw, float(rng.uniform(0.25, 0.55)))
    part = cut[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
    alpha = part[:, :, 3].astype(np.float32) / 255.0
    if min(alpha.shape) >= 5:  # feather the cut edge so the paste does not show a hard outline
        alpha = np.minimum(alpha, cv2.GaussianBlur(alpha, (3, 3), 0) + 0.02 * (alpha > 0.99))
    region = frame[fy0:fy1, fx0:fx1].astype(np.float32)
    frame[fy0:fy1, fx0:fx1] = (region * (1 - alpha[:, :, None]) + part[:, :, :3] * alpha[:, :, None]).astype(np.uint8)
    full[fy0:fy1, fx0:fx1] = alpha
    ys, xs = np.nonzero(alpha > 0.5)
    if len(xs) == 0:
        return full, None
    return full, (float(fx0 + xs.min()), float(fy0 + ys.min()), float(fx0 + xs.max() + 1), float(fy0 + ys.max() + 1))


def match_brightness(cut: np.ndarray, frame: np.ndarray, grey: bool) -> np.ndarray:
    """Pull the cut-out's mean brightness part-way toward the frame's (and make it grey on grey footage)."""
    out = cut.copy()
    rgb = out[:, :, :3].astype(np.float32)
    a = out[:, :, 3] > 0
    if a.any():
        gain = np.clip((frame.mean() + 1) / (rgb[a].mean() + 1), 0.6, 1.5) ** 0.5
        rgb = np.clip(rgb * gain, 0, 255)
    if grey:
        g = cv2.cvtColor(rgb.astype(np.uint8), cv2.COLOR_BGR2GRAY)
        rgb = np.dstack([g, g, g]).astype(np.float32)
    out[:, :, :3] = rgb.astype(np.uint8)
    return out


def composite(frame: np.ndarray, boxes: np.ndarray, names: list[str], cutouts: list[Cutout],
              rng: np.random.Generator, horizon_frac: float = 0.3, ground_top_frac: float = 0.45,
              ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Paste ``cutouts`` onto ``frame`` (labels ``boxes``/``names``). Existing boxes mostly hidden are dropped.

    Returns (image, xyxy (N, 4), class names) with every box inside the image.
    """
    img = frame.copy()
    h, w = img.shape[:2]
    grey = bool(np.abs(img[:, :, 0].astype(np.int16) - img[:, :, 2]).mean() < 2)
    cover = np.zeros((h, w), np.float32)
    new_boxes: list[tuple[float, float, float, float]] = []
    new_names: list[str] = []
    # paste far (high in the image) first so nearer objects overlap farther ones, as in a real view
    bottoms = np.sort(rng.uniform(ground_top_frac * h, h * 0.99, size=len(cutouts)))
    for cut, bottom in zip(cutouts, bottoms, strict=True):
        target_h = perspective_height(bottom, h, horizon_frac, float(rng.uniform(0.18, 0.42)))
        target_h = float(np.clip(target_h, 18, 0.45 * h))
        ch, cw = cut.image.shape[:2]
        scale = target_h / ch
        nw, nh = max(2, round(cw * scale)), max(2, round(ch * scale))
        if nw > 0.6 * w:
            continue
        resized = cv2.resize(cut.image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        resized = match_brightness(resized, img, grey)
        x0 = int(rng.uniform(-0.1 * nw, w - 0.9 * nw))
        alpha, box = paste(img, resized, x0, int(bottom - nh), rng)
        cover = np.maximum(cover, alpha)
        if box is None or box[2] - box[0] < 4 or box[3] - box[1] < 4:
            continue
        new_boxes.append(box)
        new_names.append(cut.class_name)
    kept_boxes, kept_names = [], []
    for b, n in zip(list(np.asarray(boxes).reshape(-1, 4)), names, strict=True):
        x0, y0, x1, y1 = (int(v) for v in b)
        area = cover[max(0, y0):max(0, y1), max(0, x0):max(0, x1)]
        if area.size and (area > 0.5).mean() > 0.6:
            continue  # the original object is now mostly behind a pasted one
        kept_boxes.append(tuple(float(v) for v in b))
        kept_names.append(n)
    all_boxes = np.array(kept_boxes + new_boxes, dtype=np.float32).reshape(-1, 4)
    all_boxes[:, [0, 2]] = all_boxes[:, [0, 2]].clip(0, w)
    all_boxes[:, [1, 3]] = all_boxes[:, [1, 3]].clip(0, h)
    return img, all_boxes, kept_names + new_names
