"""An image folder as a camera: pictures in name order, taken at a fixed rate (``image_fps``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from detector.frames import Frame
from detector.sources.base import IMAGE_SUFFIXES, SourceError, SourceStats
from detector.sources.video import AnalysisSampler


class ImageFolderSource:
    """Sorted images of a folder; image ``i`` is at ``i / image_fps`` seconds (default: one per analysis step).

    Unreadable images are skipped and counted (``stats.last_error`` names the last one); a folder without
    images is a :class:`SourceError`.
    """

    def __init__(
        self,
        folder: str | Path,
        camera_id: str,
        *,
        analysis_fps: float = 1.0,
        image_fps: float | None = None,
        start_time: datetime | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.camera_id = camera_id
        self.analysis_fps = analysis_fps
        self.image_fps = image_fps or analysis_fps
        if self.image_fps <= 0:
            raise SourceError(f"{camera_id}: image_fps must be > 0, got {self.image_fps}")
        self.paths = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not self.paths:
            raise SourceError(f"{camera_id}: cannot open {folder}: no images ({', '.join(IMAGE_SUFFIXES)})")
        self.start_time = start_time or datetime.now(UTC)
        self.stats = SourceStats()
        self._closed = False

    def frames(self) -> Iterator[Frame]:
        sampler = AnalysisSampler(1.0 / self.analysis_fps)
        index = 0
        for i, path in enumerate(self.paths):
            if self._closed:
                return
            for pts, picked in sampler.push(i / self.image_fps, path):
                image = cv2.imread(str(picked), cv2.IMREAD_COLOR)
                if image is None or image.size == 0:
                    self.stats.last_error = f"{self.camera_id}: unreadable image {picked.name}"
                    continue
                self.stats.frames_decoded += 1
                self.stats.frames_yielded += 1
                yield Frame(
                    camera_id=self.camera_id,
                    image=np.ascontiguousarray(image),
                    pts_s=pts,
                    wall_time=self.start_time + timedelta(seconds=pts),
                    index=index,
                    meta={"source": str(picked)},
                )
                index += 1

    def close(self) -> None:
        self._closed = True
