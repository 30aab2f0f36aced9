"""Real-footage evaluation material, built at run time from ``../shared`` (never committed).

* `SourceClip`: every decodable frame of a real clip with its media time, looped to any length (the cameras
  are static, so a loop is a longer stream of the same place).
* `plan_bag_episodes` / `BagEpisode.render`: real trash-bag cut-outs (along the Woosong polygon labels)
  pasted at a fixed spot of a real clip from a known start to a known end: a clip with exact ground truth
  for recall on real pixels. The paste is the same pixels in every frame it is in (a bag stays), drawn with
  the soft contact shadow of `detector.training.composite`.
* `photo_set`: the real bag and street-garbage validation photos with their boxes (for still-frame recall
  and AP50).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from detector.training.composite import Cutout, bag_cutouts, match_brightness, paste, perspective_height
from detector.training.labels import polygon_to_box, read_polygon_labels, read_yolo_labels
from detector.training.real_frames import video_files
from detector.zones.polygon import PolygonZone
from detector.zones.schema import Zone


@dataclass
class SourceClip:
    """All decodable frames of one real clip (BGR) and their media times."""

    path: Path
    frames: list[np.ndarray]
    times: np.ndarray  # seconds, ascending
    length_s: float  # loop period: last frame time + one frame

    @classmethod
    def load(cls, path: Path, max_frames: int | None = None) -> SourceClip:
        import av

        frames: list[np.ndarray] = []
        times: list[float] = []
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            rate = float(stream.average_rate or 0) or 10.0
            try:
                for i, frame in enumerate(container.decode(stream)):
                    times.append(float(frame.time) if frame.time is not None else i / rate)
                    frames.append(frame.to_ndarray(format="bgr24"))
                    if max_frames and len(frames) >= max_frames:
                        break
            except av.error.FFmpegError:  # the plaza clip's broken tail: keep what decoded
                pass
        if not frames:
            raise ValueError(f"{path} decodes to no frames")
        t = np.asarray(times, np.float64) - times[0]
        step = float(np.median(np.diff(t))) if len(t) > 1 else 1.0 / rate
        return cls(path=path, frames=frames, times=t, length_s=float(t[-1] + step))

    def index_at(self, t: float) -> int:
        """Index of the frame on screen at media time ``t`` of the clip looped forever."""
        return int(np.searchsorted(self.times, t % self.length_s, side="right") - 1)

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.frames[0].shape[:2]
        return w, h


def shared_clips(shared: Path) -> list[Path]:
    return video_files(shared)


@dataclass
class BagEpisode:
    """One real bag standing at a fixed spot of a clip from ``start_s`` to ``end_s``."""

    start_s: float
    end_s: float
    cut: np.ndarray  # BGRA, already at its on-screen size and brightness
    x0: int
    y0: int
    box: tuple[float, float, float, float]  # visible xyxy in frame pixels (at rest)
    seed: int
    sway_px: float = 0.0  # > 0: pushed to and fro by this much either side (a hard negative, not a truth)
    sway_period_s: float = 7.3

    def covers(self, t: float) -> bool:
        return self.start_s <= t < self.end_s

    def render(self, frame: np.ndarray, t: float = 0.0) -> np.ndarray:
        out = frame.copy()
        dx = round(self.sway_px * np.sin(2 * np.pi * (t - self.start_s) / self.sway_period_s)) if self.sway_px else 0
        paste(out, self.cut, self.x0 + dx, self.y0, np.random.default_rng(self.seed))  # same shadow every frame
        return out


def bag_cutouts_valid(shared: Path, limit: int, seed: int = 0) -> list[Cutout]:
    """Bag cut-outs from the Woosong *valid* split (the model trained on train only)."""
    return bag_cutouts(Path(shared) / "datasets" / "woosong_trashbags" / "valid", ["trash_bag"],
                       np.random.default_rng(seed), limit)


def plan_bag_episodes(clip: SourceClip, zone: Zone, cutouts: list[Cutout], windows: list[tuple[float, float]],
                      seed: int = 0) -> list[BagEpisode]:
    """One bag per time window, each at its own random spot whose ground contact lies inside ``zone``.

    The bag's on-screen height follows the street perspective of `composite.perspective_height` (a bag is a
    third of a person's height), at least 32 px: a bag a camera can be asked to see.
    """
    rng = np.random.default_rng(seed)
    w, h = clip.size
    area = PolygonZone(zone, (w, h), anchor="bottom_center")
    background = clip.frames[0]
    grey = bool(np.abs(background[:, :, 0].astype(np.int16) - background[:, :, 2]).mean() < 2)
    episodes: list[BagEpisode] = []
    for k, (start, end) in enumerate(windows):
        for _ in range(200):  # a spot inside the zone, the whole bag in the frame
            cut = cutouts[(k + int(rng.integers(len(cutouts)))) % len(cutouts)]
            bottom = float(rng.uniform(0.45 * h, 0.97 * h))
            target_h = float(np.clip(perspective_height(bottom, h, 0.3, float(rng.uniform(0.2, 0.32))), 32, 0.3 * h))
            ch, cw = cut.image.shape[:2]
            nw, nh = max(2, round(cw * target_h / ch)), max(2, round(target_h))
            x0 = int(rng.uniform(0, w - nw))
            y0 = int(bottom - nh)
            if nw > 0.4 * w or y0 < 0:
                continue
            centre = np.array([[x0 + nw / 2, bottom]], np.float32)
            if not area.contains(centre)[0]:
                continue
            resized = cv2.resize(cut.image, (nw, nh), interpolation=cv2.INTER_AREA)
            resized = match_brightness(resized, background, grey)
            _, box = paste(background.copy(), resized, x0, y0, np.random.default_rng(seed + k))
            if box is None:
                continue
            episodes.append(BagEpisode(start, end, resized, x0, y0, box, seed + k))
            break
    return episodes


@dataclass
class Photo:
    path: Path
    boxes: np.ndarray  # (N, 4) xyxy pixels of the positives


def photo_set(shared: Path, which: str) -> list[Photo]:
    """Validation photos with positives: ``bags`` (Woosong valid, polygons -> boxes, both bag classes) or
    ``street_garbage`` (class 1 ``garbage``; class 0 ``Images`` is stray and dropped)."""
    root = Path(shared) / "datasets" / ("woosong_trashbags" if which == "bags" else "street_garbage") / "valid"
    photos = []
    for img in sorted((root / "images").glob("*.jpg")):
        label = root / "labels" / (img.stem + ".txt")
        if not label.exists():
            continue
        size = cv2.imread(str(img), cv2.IMREAD_REDUCED_GRAYSCALE_8)
        if size is None:
            continue
        hh, ww = (s * 8 for s in size.shape[:2])  # Roboflow exports are 640x640; the reduced read is cheap
        if which == "bags":
            boxes = [np.array(polygon_to_box(p)) * [ww, hh, ww, hh] for _, p in read_polygon_labels(label) if len(p) >= 6]
        else:
            cls, xyxy = read_yolo_labels(label, ww, hh)
            boxes = list(xyxy[cls == 1])
        if boxes:
            photos.append(Photo(img, np.array(boxes, np.float32).reshape(-1, 4)))
    return photos
