"""`Frame`: one decoded picture of one camera, as sources hand it to the batcher."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np


@dataclass(frozen=True)
class Frame:
    camera_id: str
    image: np.ndarray  # H x W x 3, uint8, BGR (OpenCV order)
    pts_s: float  # media time in seconds since the stream started (drives dwell/clear timing)
    wall_time: datetime  # UTC time the frame was taken (files: start time + pts)
    index: int = 0  # running frame number in the source
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return int(self.image.shape[1]), int(self.image.shape[0])
