"""Live cameras: one decode thread per camera feeding a small latest-frame slot.

The analysis loop never waits on a camera: it takes whatever is newest (:meth:`LiveCamera.latest`), and a
camera that falls behind or breaks only loses its own frames. A broken stream marks the camera unhealthy
and is reopened with capped exponential backoff; PyAV open/read timeouts make sure a dead server can never
hang the thread.

>>> cam = LiveCamera("/nonexistent.mp4", "cam-09", backoff_initial_s=0.05, backoff_max_s=0.05)
>>> _ = cam.start(); cam.wait_healthy(0.3)
False
>>> cam.stats.last_error
'cam-09: cannot open /nonexistent.mp4: no such file'
>>> cam.stop()
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from detector import metrics
from detector.frames import Frame
from detector.sources.base import DecodeOptions, SourceError, SourceStats, is_stream_url, redact
from detector.sources.cadence import AnalysisCadence
from detector.sources.video import PyAVReader


class LiveCamera:
    """A camera read by its own thread. Frames wait in a bounded slot (``slot_size``, default 1): when it is
    full the oldest frame is dropped and counted.

    Options: ``decode`` (:class:`~detector.sources.DecodeOptions`; decoder threads default to 1 here: many
    cameras share the cores), ``keyframes_only`` (shortcut for ``decode.keyframes``, None = auto), ``open_timeout_s``/``read_timeout_s`` (default 5 s),
    ``backoff_initial_s`` (0.5 s) doubling up to ``backoff_max_s`` (30 s), ``rtsp_transport`` ("tcp"),
    files only: ``loop`` (False) and ``pace`` (True: play at media speed, like a camera). ``cadence``: the
    camera's adaptive analysis interval (:class:`~detector.sources.cadence.AnalysisCadence`; None: fixed).
    """

    def __init__(
        self,
        url: str,
        camera_id: str,
        analysis_fps: float = 1.0,
        *,
        slot_size: int = 1,
        keyframes_only: bool | None = None,
        decode: DecodeOptions | None = None,
        open_timeout_s: float = 5.0,
        read_timeout_s: float = 5.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        rtsp_transport: str = "tcp",
        loop: bool = False,
        pace: bool = True,
        start_time: datetime | None = None,
        cadence: AnalysisCadence | None = None,
    ) -> None:
        if analysis_fps <= 0:
            raise SourceError(f"{camera_id}: analysis_fps must be > 0, got {analysis_fps}")
        self.url = url
        self.camera_id = camera_id
        self.analysis_fps = analysis_fps
        self.is_stream = is_stream_url(url)
        self.loop = loop
        self.pace = pace
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.start_time = start_time
        decode = (decode or DecodeOptions()).with_keyframes_only(keyframes_only)
        if decode.threads is None:
            decode = replace(decode, threads=1)
        self.decode = decode
        self._reader_args = dict(
            analysis_fps=analysis_fps,
            decode=decode,
            open_timeout_s=open_timeout_s,
            read_timeout_s=read_timeout_s,
            rtsp_transport=rtsp_transport,
            cadence=cadence,
        )
        self.cadence = cadence
        self.stats = SourceStats(healthy=False)
        self._slot: collections.deque[tuple[Frame, float]] = collections.deque(maxlen=max(1, slot_size))
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reader: PyAVReader | None = None
        self.finished = False  # a file (not looped) reached its end
        self.on_frame: Callable[[], None] | None = None  # e.g. Batcher.wake: end a batch wait early
        self._index = 0
        self._t0 = time.monotonic()
        self._wall0 = datetime.now(UTC)

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> LiveCamera:
        if self._thread is None:
            self._stop.clear()
            self._t0 = time.monotonic()
            self._wall0 = self.start_time or datetime.now(UTC)
            self._thread = threading.Thread(target=self._run, name=f"camera-{self.camera_id}", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread; returns within ``timeout`` even if ffmpeg is stuck in a read (it is a daemon)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def healthy(self) -> bool:
        return self.stats.healthy

    # -- consumer side -------------------------------------------------------------------------------
    def latest(self) -> Frame | None:
        """The newest frame not taken yet (older waiting ones count as dropped), or None."""
        with self._cond:
            return self._take()

    def wait(self, timeout: float | None = None) -> Frame | None:
        """Like :meth:`latest`, but waits up to ``timeout`` seconds for a frame."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._slot and not self._stop.is_set() and not self.finished:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self._cond.wait(remaining)
            return self._take()

    def wait_healthy(self, timeout: float) -> bool:
        """True as soon as a frame has arrived since the last failure; False after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.stats.healthy:
                return True
            time.sleep(0.02)
        return self.stats.healthy

    def _take(self) -> Frame | None:
        if not self._slot:
            return None
        while len(self._slot) > 1:
            self._slot.popleft()
            self._count_drop()
        frame, decoded_at = self._slot.popleft()
        self.stats.lag_s = time.monotonic() - decoded_at
        self.stats.frames_yielded += 1
        metrics.DECODE_LAG.labels(self.camera_id).set(self.stats.lag_s)
        return frame

    def _count_drop(self) -> None:
        self.stats.frames_dropped += 1
        metrics.FRAMES_DROPPED.labels(self.camera_id).inc()

    # -- decode thread -------------------------------------------------------------------------------
    def _set_health(self, healthy: bool, error: str | None = None) -> None:
        self.stats.healthy = healthy
        if error:
            self.stats.last_error = error
        metrics.CAMERA_HEALTHY.labels(self.camera_id).set(1 if healthy else 0)

    def _run(self) -> None:
        attempt = 0
        media_offset = 0.0
        looped: PyAVReader | None = None  # a looped file's next reader keeps the probe of the first
        media_clock = 0.0  # paced files: monotonic time of media time 0
        while not self._stop.is_set():
            reader = looped or PyAVReader(self.url, self.camera_id, stats=self.stats, **self._reader_args)  # type: ignore[arg-type]
            continuing = looped is not None
            looped = None
            self._reader = reader
            got_frame = False
            last_pts = 0.0
            try:
                reader.open()
                if not continuing:
                    media_clock = time.monotonic() - media_offset
                # A loop continues on the same clock: restarting it at each reopen played every loop early by
                # the gap added to media_offset (1 s per loop of a 20 s clip at 1 frame/s: 5% too many frames).
                for image, pts in reader.read():
                    if self._stop.is_set():
                        break
                    # A file played like a camera: wait for the frame's media time.
                    if not self.is_stream and self.pace and self._stop.wait(
                            max(0.0, media_clock + media_offset + pts - time.monotonic())):
                        break
                    if not got_frame:
                        got_frame = True
                        attempt = 0
                        self._set_health(True)
                    last_pts = pts
                    self._put(image, media_offset + pts)
                if self._stop.is_set():
                    break
                if not self.is_stream:
                    if self.loop and got_frame:
                        media_offset += last_pts + 1.0 / self.analysis_fps
                        looped = reader.reopened()
                        continue
                    self.finished = True
                    with self._cond:
                        self._cond.notify_all()
                    break
                raise SourceError(f"{self.camera_id}: {redact(self.url)} ended (server closed the stream)")
            except SourceError as exc:
                self.stats.decode_errors += 1
                self._set_health(False, str(exc))
            except Exception as exc:  # never let one camera's thread die silently
                self.stats.decode_errors += 1
                self._set_health(False, f"{self.camera_id}: {type(exc).__name__}: {exc}".splitlines()[0])
            finally:
                reader.close()
                self._reader = None
            if self._stop.is_set():
                break
            delay = min(self.backoff_max_s, self.backoff_initial_s * (2**attempt))
            attempt += 1
            if self._stop.wait(delay):
                break
            self.stats.reconnects += 1
            metrics.RECONNECTS.labels(self.camera_id).inc()
        self._set_health(False)

    def _put(self, image, media_pts: float) -> None:  # type: ignore[no-untyped-def]
        now = time.monotonic()
        # Streams: media time = time since the camera started (survives reconnects, which reset RTSP pts).
        pts_s = (now - self._t0) if self.is_stream else media_pts
        frame = Frame(
            camera_id=self.camera_id,
            image=image,
            pts_s=pts_s,
            wall_time=self._wall0 + timedelta(seconds=pts_s),
            index=self._index,
            meta={"source": redact(self.url), "keyframes_only": self.stats.keyframes_only},
        )
        self._index += 1
        with self._cond:
            if len(self._slot) == self._slot.maxlen:
                self._count_drop()
            self._slot.append((frame, now))
            self._cond.notify_all()
        if self.on_frame is not None:
            self.on_frame()


class LiveSource:
    """:class:`LiveCamera` behind the plain :class:`~detector.sources.Source` iterator.

    ``frames()`` blocks until the next frame; it ends when the source is closed or a non-looping file ends,
    never because a stream broke (the camera reconnects meanwhile).
    """

    def __init__(self, url: str, camera_id: str, *, analysis_fps: float = 1.0, **options: object) -> None:
        self.camera_id = camera_id
        self.camera = LiveCamera(url, camera_id, analysis_fps, **options)  # type: ignore[arg-type]
        self.stats = self.camera.stats
        self._closed = False
        self.camera.start()

    def frames(self) -> Iterator[Frame]:
        while not self._closed:
            frame = self.camera.wait(timeout=0.5)
            if frame is not None:
                yield frame
            elif self.camera.finished or not self.camera.running:
                return

    def close(self) -> None:
        self._closed = True
        self.camera.stop()
