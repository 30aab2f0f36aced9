"""Copy-paste composites: cut-out objects pasted onto real pavement frames and generated streets.

Scale follows the perspective of a street camera (an object standing higher in the image is farther
away, so it is drawn smaller) and, when a cut-out knows its real height, its size in the world (a bus
is drawn taller than a bag at the same spot). Light follows the frame where the object lands: brightness,
colour cast, sharpness and sensor noise of the surrounding pixels (`match_light`). Every paste gets a
soft contact shadow, and the label box is the box of the pixels that are really visible after pasting.
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
    height_m: float | None = None  # real height: sets its size against other objects (None: the old random size)


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


def box_cutouts(image: np.ndarray, boxes: np.ndarray, class_name: str, min_px: int = 24) -> list[Cutout]:
    """Cut-outs from box labels (no polygon): the box crop with a feathered elliptical alpha, which suits
    blob-shaped things such as litter heaps and bag piles better than a hard rectangle of their background."""
    out = []
    h, w = image.shape[:2]
    for x0, y0, x1, y1 in np.asarray(boxes, np.float32).reshape(-1, 4).round().astype(int):
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        if x1 - x0 < min_px or y1 - y0 < min_px:
            continue
        ch, cw = y1 - y0, x1 - x0
        alpha = np.zeros((ch, cw), np.float32)
        cv2.ellipse(alpha, (cw // 2, ch // 2), (max(1, int(cw * 0.48)), max(1, int(ch * 0.48))), 0, 0, 360, 1.0, -1)
        k = max(3, (min(cw, ch) // 8) | 1)
        alpha = np.clip(cv2.GaussianBlur(alpha, (k, k), 0) * 1.3, 0, 1)
        out.append(Cutout(np.dstack([image[y0:y1, x0:x1], (alpha * 255).astype(np.uint8)]), class_name))
    return out


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


def _sharpness(grey: np.ndarray) -> float:
    return float(cv2.Laplacian(grey, cv2.CV_32F).var()) if min(grey.shape[:2]) >= 3 else 0.0


def _noise_sigma(grey: np.ndarray) -> float:
    """Sensor noise of a patch: robust spread of its fine detail (median absolute deviation)."""
    if min(grey.shape[:2]) < 5:
        return 0.0
    g = grey.astype(np.float32)
    fine = g - cv2.GaussianBlur(g, (3, 3), 0)
    return float(1.4826 * np.median(np.abs(fine - np.median(fine))))


def match_light(cut: np.ndarray, frame: np.ndarray, x0: int, y0: int, rng: np.random.Generator,
                grey: bool) -> np.ndarray:
    """Make a BGRA cut-out look lit and filmed like the frame around where it lands (x0, y0 = its top-left).

    Brightness and colour cast are pulled part-way toward the surrounding pixels' (a paste that is exactly
    as bright as its spot would hide dark objects in sunshine), then the cut-out is blurred down to the
    frame's sharpness and gets the frame's noise: a crisp, clean sprite on a soft, noisy CCTV frame is a cue
    the model would learn instead of the object.

    >>> frame = np.full((100, 100, 3), (60, 90, 140), np.uint8)
    >>> cut = np.dstack([np.full((20, 20, 3), 200, np.uint8), np.full((20, 20), 255, np.uint8)])
    >>> out = match_light(cut, frame, 40, 40, np.random.default_rng(0), grey=False)
    >>> bool(out[..., 2].mean() > out[..., 0].mean())  # takes on the frame's warm cast
    True
    """
    out = match_brightness(cut, frame, grey)
    ch, cw = out.shape[:2]
    h, w = frame.shape[:2]
    pad = max(ch, cw) // 2
    ys, xs = slice(max(0, y0 - pad), min(h, y0 + ch + pad)), slice(max(0, x0 - pad), min(w, x0 + cw + pad))
    around = frame[ys, xs]
    if around.size == 0:
        return out
    rgb = out[:, :, :3].astype(np.float32)
    a = out[:, :, 3] > 0
    if not grey and a.any():
        cast = around.reshape(-1, 3).mean(0) + 1
        cast = (cast / cast.mean()) ** 0.5
        rgb = np.clip(rgb * cast[None, None, :], 0, 255)
    g_frame = cv2.cvtColor(around, cv2.COLOR_BGR2GRAY)
    g_cut = cv2.cvtColor(rgb.astype(np.uint8), cv2.COLOR_BGR2GRAY)
    ratio = _sharpness(g_frame) / max(_sharpness(g_cut), 1e-3)
    if ratio < 0.6 and min(ch, cw) >= 8:
        sigma = float(min(2.5, 0.7 * np.log2(0.6 / max(ratio, 1e-3)) + 0.3))
        rgb = cv2.GaussianBlur(rgb, (0, 0), sigma)
        alpha = cv2.GaussianBlur(out[:, :, 3].astype(np.float32), (0, 0), sigma * 0.5)
        out[:, :, 3] = np.clip(alpha, 0, 255).astype(np.uint8)
    noise = min(_noise_sigma(g_frame), 12.0)
    if noise > 0.5:
        rgb = rgb + rng.normal(0, noise, rgb.shape[:2])[:, :, None]
    out[:, :, :3] = np.clip(rgb, 0, 255).astype(np.uint8)
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
    # a person (1.7 m) standing at the bottom edge is this share of the frame height
    person_near = float(rng.uniform(0.3, 0.55))
    for cut, bottom in zip(cutouts, bottoms, strict=True):
        if cut.height_m:  # real size: everything in one picture shares one perspective
            target_h = perspective_height(bottom, h, horizon_frac, person_near * cut.height_m / 1.7)
            target_h = float(np.clip(target_h, 12, 0.7 * h))
        else:
            target_h = perspective_height(bottom, h, horizon_frac, float(rng.uniform(0.18, 0.42)))
            target_h = float(np.clip(target_h, 18, 0.45 * h))
        ch, cw = cut.image.shape[:2]
        scale = target_h / ch
        nw, nh = max(2, round(cw * scale)), max(2, round(ch * scale))
        if nw > (0.9 if cut.height_m else 0.6) * w:
            continue
        resized = cv2.resize(cut.image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        x0 = int(rng.uniform(-0.1 * nw, w - 0.9 * nw))
        resized = match_light(resized, img, x0, int(bottom - nh), rng, grey)
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
