"""Evidence files for an event, drawn with OpenCV only (Hershey font: nothing to download).

- ``frame.jpg``: the whole frame, zone polygon (yellow), fixtures (grey) and offending boxes (red, labelled);
- ``crop.jpg``: the padded union of the offending boxes;
- ``clip.mp4`` (optional): the last few seconds of analysed frames before the event, from a per-camera
  `FrameRing`, H.264 via PyAV.

Writing evidence must never cost the event: any write error (disk full, read-only directory, encoder
failure) is logged as one clear line and the event goes out with whatever evidence did get written.

>>> import numpy as np, tempfile
>>> img = np.zeros((120, 160, 3), np.uint8)
>>> out = annotate(img, np.array([[10, 60], [80, 60], [80, 110], [10, 110]]), [],
...                np.array([[20, 70, 40, 100]], np.float32), ["chair 0.80"], "cam-01 z-a")
>>> out.shape, bool(out.any()), bool(img.any())
((120, 160, 3), True, False)
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import deque
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from detector.events import EvidenceKind, EvidenceRef

log = logging.getLogger("frontage.evidence")

YELLOW, RED, GREY, WHITE, BLACK = (0, 220, 255), (40, 40, 230), (160, 160, 160), (255, 255, 255), (0, 0, 0)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _label(img: np.ndarray, text: str, org: tuple[int, int], scale: float, color: tuple[int, int, int]) -> None:
    (tw, th), base = cv2.getTextSize(text, FONT, scale, 1)
    x, y = max(0, org[0]), max(th + 2, org[1])
    cv2.rectangle(img, (x, y - th - 2), (x + tw + 2, y + base), BLACK, -1)
    cv2.putText(img, text, (x + 1, y - 1), FONT, scale, color, 1, cv2.LINE_AA)


def annotate(image: np.ndarray, polygon_px: np.ndarray, fixtures_px: list[np.ndarray], boxes: np.ndarray,
             labels: list[str], header: str) -> np.ndarray:
    """A copy of ``image`` with the zone, fixtures, boxes and a header line drawn on it."""
    out = image.copy()
    w = out.shape[1]
    scale = max(0.4, min(1.2, w / 1400))
    thick = max(1, round(w / 640))
    cv2.polylines(out, [polygon_px.reshape(-1, 1, 2).astype(np.int32)], True, YELLOW, thick, cv2.LINE_AA)
    for fx in fixtures_px:
        cv2.polylines(out, [fx.reshape(-1, 1, 2).astype(np.int32)], True, GREY, thick, cv2.LINE_AA)
    for box, text in zip(np.round(boxes).astype(int), labels, strict=False):
        cv2.rectangle(out, (int(box[0]), int(box[1])), (int(box[2]), int(box[3])), RED, thick + 1)
        _label(out, text, (int(box[0]), int(box[1]) - 2), scale, WHITE)
    _label(out, header, (4, int(22 * scale) + 4), scale, YELLOW)
    return out


def crop_box(boxes: np.ndarray, frame_wh: tuple[int, int], pad: float = 0.2, min_side: int = 64) -> tuple[int, int, int, int]:
    """Padded union of boxes, clipped to the frame."""
    w, h = frame_wh
    x1, y1 = boxes[:, 0].min(), boxes[:, 1].min()
    x2, y2 = boxes[:, 2].max(), boxes[:, 3].max()
    pw, ph = max((x2 - x1) * pad, (min_side - (x2 - x1)) / 2, 0), max((y2 - y1) * pad, (min_side - (y2 - y1)) / 2, 0)
    return (int(max(0, x1 - pw)), int(max(0, y1 - ph)), int(min(w, x2 + pw)), int(min(h, y2 + ph)))


class FrameRing:
    """The last ``seconds`` of analysed frames of one camera (downscaled), for evidence clips."""

    def __init__(self, seconds: float = 10.0, max_width: int = 640, max_frames: int = 300) -> None:
        self.seconds = seconds
        self.max_width = max_width
        self.frames: deque[tuple[float, np.ndarray]] = deque(maxlen=max_frames)

    def push(self, t: float, image: np.ndarray) -> None:
        h, w = image.shape[:2]
        if w > self.max_width:
            image = cv2.resize(image, (self.max_width, round(h * self.max_width / w)), interpolation=cv2.INTER_AREA)
        self.frames.append((t, image))
        while self.frames and t - self.frames[0][0] > self.seconds:
            self.frames.popleft()

    def snapshot(self) -> list[tuple[float, np.ndarray]]:
        return list(self.frames)


def encode_clip(frames: list[tuple[float, np.ndarray]], path: Path) -> None:
    """H.264 MP4 of timestamped frames (PyAV); frame times are kept (analysis rate, often 1 fps)."""
    h, w = frames[-1][1].shape[:2]
    w2, h2 = w - w % 2, h - h % 2
    t0 = frames[0][0]
    tb = Fraction(1, 1000)
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=max(1, round(len(frames) / max(frames[-1][0] - t0, 1e-3))))
        stream.width, stream.height, stream.pix_fmt = w2, h2, "yuv420p"
        stream.time_base = tb
        stream.codec_context.options = {"preset": "veryfast", "crf": "28"}
        last_pts = -1
        for t, img in frames:
            if img.shape[:2] != (h, w):
                img = cv2.resize(img, (w, h))
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img[:h2, :w2]), format="bgr24")
            pts = max(last_pts + 1, round((t - t0) * 1000))
            frame.pts, frame.time_base, last_pts = pts, tb, pts
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class EvidenceWriter:
    """Writes the evidence files of one event under ``root/<camera>/<episode_id>/``."""

    def __init__(self, root: str | Path, jpeg_quality: int = 85, clip: bool = True, raw: bool = True) -> None:
        self.root = Path(root)
        self.jpeg_quality = jpeg_quality
        self.clip = clip
        self.raw = raw  # the unannotated frame: drawn boxes and zone lines would teach a re-trained model to see them
        self.errors = 0

    def write(self, *, camera: str, episode_id: str, seq: int, image: np.ndarray, polygon_px: np.ndarray,
              fixtures_px: list[np.ndarray], boxes: np.ndarray, labels: list[str], header: str,
              ring: FrameRing | None = None) -> tuple[list[EvidenceRef], dict[str, Path]]:
        """Write what can be written; returns the refs for the event and part name -> path for the outbox."""
        refs: list[EvidenceRef] = []
        paths: dict[str, Path] = {}
        folder = self.root / _SAFE.sub("_", camera) / _SAFE.sub("_", episode_id)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._fail(f"cannot create evidence folder {folder}: {exc.strerror or exc}")
            return refs, paths
        frame_wh = (image.shape[1], image.shape[0])
        jobs: list[tuple[str, EvidenceKind]] = [("frame.jpg", EvidenceKind.FRAME)]
        if len(boxes):
            jobs.append(("crop.jpg", EvidenceKind.CROP))
        if self.raw:
            jobs.append(("raw.jpg", EvidenceKind.RAW))
        annotated = annotate(image, polygon_px, fixtures_px, boxes, labels, header)
        for name, kind in jobs:
            if kind == EvidenceKind.FRAME:
                picture = annotated
            elif kind == EvidenceKind.RAW:
                picture = image
            else:
                x1, y1, x2, y2 = crop_box(boxes, frame_wh)
                picture = annotated[y1:y2, x1:x2]
            ok, buf = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
            if not ok:
                self._fail(f"cannot encode {name} for {episode_id}")
                continue
            self._store(folder / f"{seq}-{name}", name, kind, "image/jpeg", buf.tobytes(), refs, paths)
        if self.clip and ring is not None and len(ring.frames) >= 2:
            path = folder / f"{seq}-clip.mp4"
            try:
                encode_clip(ring.snapshot(), path)
                data = path.read_bytes()
                refs.append(EvidenceRef(name="clip.mp4", kind=EvidenceKind.CLIP, content_type="video/mp4",
                                        sha256=hashlib.sha256(data).hexdigest(), size=len(data)))
                paths["clip.mp4"] = path
            except (OSError, av.FFmpegError, ValueError) as exc:
                self._fail(f"cannot write evidence clip {path}: {exc}")
        return refs, paths

    def _store(self, path: Path, name: str, kind: EvidenceKind, content_type: str, data: bytes,
               refs: list[EvidenceRef], paths: dict[str, Path]) -> None:
        try:
            path.write_bytes(data)
        except OSError as exc:
            self._fail(f"cannot write evidence {path}: {exc.strerror or exc}")
            return
        refs.append(EvidenceRef(name=name, kind=kind, content_type=content_type,
                                sha256=hashlib.sha256(data).hexdigest(), size=len(data)))
        paths[name] = path

    def _fail(self, message: str) -> None:
        self.errors += 1
        log.error("evidence: %s (the event is sent without it)", message)
