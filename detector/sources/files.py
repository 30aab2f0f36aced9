"""A file camera of the edge: every analysis frame of a video file (or image folder), read on the analysis
thread as fast as the model takes them, behind the same consumer side as `LiveCamera` (``latest()``,
``finished``, ``stats``, ``stop()``).

A file that cannot be opened or read is a camera fault, not a reason to stop the box: the error is reported
(``stats.healthy`` False, ``stats.last_error``, the camera-health and reconnect metrics) and the file is
opened again with capped exponential backoff, exactly as a dead stream is. A read that breaks mid-file
resumes after the last frame handed out (frames at or before it are skipped), so the rules never see time go
backwards. ``max_attempts`` (None: for ever) ends a camera that keeps failing: ``finished`` and ``failed``.

>>> cam = FileCamera("/nonexistent.mp4", "cam-09", max_attempts=1)
>>> cam.latest() is None, cam.finished, cam.failed, cam.stats.last_error
(True, True, True, 'cam-09: cannot open /nonexistent.mp4: no such file')
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from datetime import datetime

from detector import metrics
from detector.frames import Frame
from detector.sources.base import DecodeOptions, Source, SourceError, SourceStats
from detector.sources.cadence import AnalysisCadence
from detector.sources.opener import open_source

log = logging.getLogger("frontage.sources")
DECODE_COUNTERS = ("frames_decoded", "keyframes_demuxed", "keyframes_skipped", "frames_skipped_to_keyframe")


class FileCamera:
    """One file read frame by frame; reopened with backoff while it cannot be read."""

    def __init__(
        self,
        url: str,
        camera_id: str,
        analysis_fps: float = 1.0,
        *,
        decode: DecodeOptions | None = None,
        loop: bool = False,
        start_time: datetime | None = None,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        max_attempts: int | None = None,
        cadence: AnalysisCadence | None = None,
    ) -> None:
        self.url = url
        self.camera_id = camera_id
        self.analysis_fps = analysis_fps
        self._open_args: dict[str, object] = {"analysis_fps": analysis_fps, "realtime": False, "loop": loop,
                                              "decode": decode or DecodeOptions(), "start_time": start_time,
                                              "cadence": cadence}  # an image folder keeps its fixed rate
        self.cadence = cadence
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.max_attempts = max_attempts
        self.stats = SourceStats(healthy=False)
        self.finished = False
        self.failed = False  # gave up after max_attempts
        self._source: Source | None = None
        self._frames: Iterator[Frame] | None = None
        self._failures = 0  # consecutive failed attempts
        self._retry_at = 0.0
        self._last_pts: float | None = None  # of the last frame handed out: a reopened file resumes after it
        self._closed_counts = dict.fromkeys(DECODE_COUNTERS, 0)  # of the sources opened before the current one

    def latest(self) -> Frame | None:
        """The file's next analysis frame; None at the end, while waiting to retry, or after giving up."""
        if self.finished or time.monotonic() < self._retry_at:
            return None
        try:
            if self._frames is None:
                self._source = open_source(self.url, self.camera_id, **self._open_args)  # type: ignore[arg-type]
                self._frames = iter(self._source.frames())
            for frame in self._frames:
                if self._last_pts is not None and frame.pts_s <= self._last_pts:
                    continue  # already analysed before the read broke
                self._last_pts = frame.pts_s
                self._sync_decode_stats()
                if not self.stats.healthy:
                    self.stats.healthy = True
                    metrics.CAMERA_HEALTHY.labels(self.camera_id).set(1)
                self._failures = 0
                self.stats.frames_yielded += 1
                return frame
        except SourceError as exc:
            self._fail(str(exc))
            return None
        except Exception as exc:  # one broken file never takes the box down
            self._fail(f"{self.camera_id}: {type(exc).__name__}: {exc}".splitlines()[0])
            return None
        self._close_source()
        self.finished = True
        return None

    def _fail(self, reason: str) -> None:
        self._close_source()
        self.stats.decode_errors += 1
        self.stats.healthy = False
        self.stats.last_error = reason
        metrics.CAMERA_HEALTHY.labels(self.camera_id).set(0)
        self._failures += 1
        if self.max_attempts is not None and self._failures >= self.max_attempts:
            self.finished = self.failed = True
            if self.max_attempts > 1:  # a single try is the caller's to report (frontage analyze: its error line)
                log.error("camera %s given up after %d tries: %s", self.camera_id, self._failures, reason)
            return
        self.stats.reconnects += 1
        metrics.RECONNECTS.labels(self.camera_id).inc()
        delay = min(self.backoff_max_s, self.backoff_initial_s * 2 ** (self._failures - 1))
        self._retry_at = time.monotonic() + delay
        log.warning("camera %s is down, retrying in %.1f s: %s", self.camera_id, delay, reason)

    def _sync_decode_stats(self) -> None:
        """The decoder's counters (every open of the file together), keyframe mode and GOP, into ``stats``."""
        if self._source is None:
            return
        src = self._source.stats
        for name in DECODE_COUNTERS:
            setattr(self.stats, name, self._closed_counts[name] + getattr(src, name))
        self.stats.keyframes_only, self.stats.gop_s = src.keyframes_only, src.gop_s

    def _close_source(self) -> None:
        if self._source is not None:
            self._sync_decode_stats()
            for name in DECODE_COUNTERS:
                self._closed_counts[name] += getattr(self._source.stats, name)
            with contextlib.suppress(Exception):  # closing a broken container must not hide what broke it
                self._source.close()
        self._source = None
        self._frames = None

    def stop(self) -> None:
        self._close_source()
        self.finished = True
