"""PyAV decoding shared by files and streams: GOP probe, keyframe-only decode, analysis-rate sampling.

Two decode paths, chosen per stream (``DecodeOptions.keyframes``: "auto" decides, "keyframes" / "all" force one):

* **keyframes only** when the analysis interval (``1 / analysis_fps``) is at least the GOP: the decoder
  skips every non-key frame (``codec_context.skip_frame = "NONKEY"``), which is most of the CPU cost, and
  the keyframes alone are frequent enough for the analysis rate.
* **decode all and drop** otherwise: every frame is decoded, and the one nearest each analysis time is kept.

Files learn their GOP from the keyframe timestamps of the first seconds (a demux-only pass, cheap);
streams learn it while they run and switch to keyframes-only once four keyframes have been decoded.

Where the CPU goes (1280x720 H.264, busy street, one analysed frame per second; bench/streams.py and
bench/decode.py): decoding the keyframe is ~12 CPU-ms, the BGR conversion 0.4-1.2 ms (warm/cold memory), so
the decoder, not the conversion, is the camera's cost; scaling to an analysis width in swscale costs about
what it saves downstream (gate, letterbox) and is an option, not the default.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import math
import os
import statistics
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np

from detector.frames import Frame
from detector.sources.base import DecodeOptions, SourceError, SourceStats, is_stream_url, redact
from detector.sources.cadence import AnalysisCadence

# Codecs whose every frame is a keyframe: skipping non-key frames would save nothing.
INTRA_ONLY_CODECS = {"mjpeg", "rawvideo", "png", "bmp", "prores", "ffv1", "dnxhd"}
GOP_PROBE_S = 12.0  # media seconds of packets read to learn the GOP of a file
GOP_PROBE_PACKETS = 1500
KEYFRAME_TOLERANCE = 1.05  # a GOP of 1.02 s still counts as "every second" at 1 fps
GOP_REGULARITY = 0.1  # keyframe gaps within 10 % of their median: the next keyframe's time can be foreseen
MAX_CONSECUTIVE_DECODE_ERRORS = 50


def _reason(exc: BaseException) -> str:
    """ffmpeg errors as short human reasons (no errno noise, no file name repeated)."""
    if isinstance(exc, av.error.ExitError):
        return "timed out"
    if isinstance(exc, av.error.FileNotFoundError | FileNotFoundError):
        return "no such file"
    if isinstance(exc, av.error.ConnectionRefusedError | ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, av.error.InvalidDataError):
        return "not a readable video (invalid data found when processing input)"
    if isinstance(exc, av.error.FFmpegError):
        text = getattr(exc, "strerror", None) or str(exc)
        return str(text).splitlines()[0].rstrip(":; ")
    return (str(exc).splitlines() or [type(exc).__name__])[0] or type(exc).__name__


class AnalysisSampler:
    """Keeps, of frames arriving in time order, the one nearest each analysis time ``t0 + k * interval``.

    >>> s = AnalysisSampler(1.0)
    >>> picked = []
    >>> for t in [0.0, 0.3, 0.9, 1.3, 1.6, 2.1, 2.4]:
    ...     picked += [p for p, _ in s.push(t, t)]
    >>> picked
    [0.0, 0.9, 2.1]
    """

    def __init__(self, interval_s: float) -> None:
        self.interval = interval_s
        self.next_t: float | None = None
        self._pending: tuple[float, Any] | None = None  # latest frame before the next analysis time

    def set_interval(self, interval_s: float) -> None:
        """A new interval from the next pick on: the next target moves to the last target + ``interval_s``
        (an adaptive camera stretched to 2 s that snaps back to 1 s wants its next frame 1 s after the last).

        >>> s = AnalysisSampler(2.0); _ = s.push(0.0, 0); s.set_interval(1.0); s.next_t
        1.0
        """
        if interval_s != self.interval and self.next_t is not None:
            self.next_t += interval_s - self.interval
        self.interval = interval_s

    def push(self, t: float, item: Any) -> list[tuple[float, Any]]:
        out: list[tuple[float, Any]] = []
        if self.next_t is None:
            self.next_t = t + self.interval
            return [(t, item)]
        if t < self.next_t:
            self._pending = (t, item)
            return out
        # The frame before the target wins if it is nearer, unless it is too far off to stand for it (a gap).
        if (
            self._pending is not None
            and (self.next_t - self._pending[0]) < (t - self.next_t)
            and (self.next_t - self._pending[0]) <= self.interval / 2
        ):
            out.append(self._pending)
            self._advance(self._pending[0])
            self._pending = None
            if t < self.next_t:
                self._pending = (t, item)
                return out
        out.append((t, item))
        self._pending = None
        self._advance(t)
        return out

    def _advance(self, picked_t: float) -> None:
        assert self.next_t is not None
        # Step the target grid (no drift); after a gap, skip the targets already passed.
        self.next_t += self.interval
        while self.next_t <= picked_t + self.interval / 2:
            self.next_t += self.interval


class PyAVReader:
    """One open of one file or stream; yields ``(image_bgr, pts_s)`` at the analysis rate.

    ``decode``: :class:`DecodeOptions` (keyframe mode, analysis width, decoder threads, loop filter);
    ``keyframes_only`` is the older shortcut for ``decode.keyframes``. ``cadence``: the camera's
    :class:`~detector.sources.cadence.AnalysisCadence` (its interval is read before each pick, so an adaptive
    camera's stretched interval takes effect at once); None: a fixed ``1 / analysis_fps``.

    Keyframe-only decode sends the decoder only what the sampler can pick: a keyframe packet too early for the
    next analysis time (the next keyframe will be nearer to it) is demuxed and dropped (``stats.keyframes_skipped``),
    and a file's non-key packets are not sent at all (its container flags its keyframes; a stream's packets are
    sent, as RTP depacketisers do not flag every keyframe). Each keyframe is drained from the decoder at once, so
    its picture comes out with its own packet (with B-frames the decoder otherwise held it back two GOPs)."""

    def __init__(
        self,
        url: str,
        camera_id: str,
        *,
        analysis_fps: float = 1.0,
        keyframes_only: bool | None = None,
        decode: DecodeOptions | None = None,
        open_timeout_s: float = 10.0,
        read_timeout_s: float = 10.0,
        rtsp_transport: str = "tcp",
        stats: SourceStats | None = None,
        cadence: AnalysisCadence | None = None,
    ) -> None:
        self.url = url
        self.camera_id = camera_id
        self.interval = 1.0 / analysis_fps  # the normal interval: what keyframe mode "auto" is decided on
        self.cadence = cadence
        self.decode = (decode or DecodeOptions()).with_keyframes_only(keyframes_only)
        self.keyframes_only_opt = self.decode.keyframes_only
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.rtsp_transport = rtsp_transport
        self.stream_url = is_stream_url(url)
        self.stats = stats or SourceStats()
        self.container: Any = None
        self.gop_s: float | None = None
        self.keyframes_only = False
        self.index_timing = False  # container timestamps unusable (e.g. AVI with B-frames): count frames
        self.frame_dur = 0.04
        self.size: tuple[int, int] | None = None
        self._probed = False  # a file's GOP and timing are known (probe once, also across loops)
        self._flags_keyframes = False  # the container flags keyframe packets (a file whose probe saw them)
        self._gop_regular = False  # the probe's keyframes came every gop_s (within GOP_REGULARITY)

    # -- opening -------------------------------------------------------------------------------------
    def _fail(self, reason: str) -> SourceError:
        msg = f"{self.camera_id}: cannot open {redact(self.url)}: {reason}"
        self.stats.last_error = msg
        return SourceError(msg)

    def _open_container(self) -> Any:
        options: dict[str, str] = {}
        if self.url.lower().startswith("rtsp"):
            options = {"rtsp_transport": self.rtsp_transport, "timeout": str(int(self.read_timeout_s * 1e6))}
        try:
            return av.open(self.url, options=options, timeout=(self.open_timeout_s, self.read_timeout_s))
        except Exception as exc:  # every ffmpeg failure becomes one line
            raise self._fail(_reason(exc)) from None

    def _video_stream(self, container: Any) -> Any:
        if not container.streams.video:
            container.close()
            raise self._fail("no video stream")
        stream = container.streams.video[0]
        if stream.codec_context is None or not stream.codec_context.name:
            container.close()
            raise self._fail("unsupported video codec")
        return stream

    def open(self) -> None:
        """Open, check that frames decode, and choose the decode path; raises SourceError."""
        if not self.stream_url:
            path = Path(self.url)
            if not path.exists():
                raise self._fail("no such file")
            if path.is_file() and os.path.getsize(path) == 0:
                raise self._fail("empty file (0 bytes)")
            if not self._probed:
                self._probe_file()
                self._probed = True
        self.container = self._open_container()
        stream = self._video_stream(self.container)
        self._configure_decoder(stream)
        if self.keyframes_only_opt is not None:
            self.keyframes_only = self.keyframes_only_opt
        if self.keyframes_only:
            stream.codec_context.skip_frame = "NONKEY"
        self.stats.keyframes_only = self.keyframes_only
        self.stats.gop_s = self.gop_s

    def reopened(self) -> PyAVReader:
        """A fresh, unopened reader of the same source that keeps what this one learnt (a file's GOP and timing):
        a looped file is probed once, not at every loop (the probe decodes its first frames in full)."""
        clone = copy.copy(self)
        clone.container = None
        clone.size = None
        return clone

    def _configure_decoder(self, stream: Any) -> None:
        """Thread and codec options; they must be set before the first packet opens the decoder."""
        ctx = stream.codec_context
        threads = self.decode.threads
        if threads:
            # One thread per decoder when many cameras share few cores: frame threads add a frame of delay
            # and per-thread overhead (one 720p keyframe: 11.7 CPU-ms with one thread, 13.1 with "AUTO").
            ctx.thread_count = threads
            ctx.thread_type = "AUTO" if threads > 1 else "NONE"
        else:
            stream.thread_type = "AUTO"  # frame+slice threads: fastest wall time for one file
        if self.decode.skip_loop_filter:
            ctx.options = {**dict(ctx.options or {}), "skip_loop_filter": "all"}

    def _to_bgr(self, frame: Any) -> np.ndarray:
        """BGR ndarray of a decoded frame, scaled to the analysis width in the same swscale pass."""
        width, height = self.decode.scaled_size(frame.width, frame.height)
        if (width, height) == (frame.width, frame.height):
            return frame.to_ndarray(format="bgr24")
        return frame.reformat(width=width, height=height, format="bgr24", interpolation="AREA").to_ndarray()

    def _probe_file(self) -> None:
        """Demux the first seconds for keyframe times (GOP) and decode a few frames (is it a video at all?)."""
        container = self._open_container()
        try:
            stream = self._video_stream(container)
            codec = stream.codec_context.name
            tb = stream.time_base
            key_times: list[float] = []
            frame_times: list[float | None] = []
            first_t: float | None = None
            packets = 0
            errors = 0
            last_error = ""
            try:
                for packet in container.demux(stream):
                    if packet.size == 0 and packet.pts is None and packet.dts is None:
                        continue
                    packets += 1
                    ts = packet.pts if packet.pts is not None else packet.dts
                    t = float(ts * tb) if ts is not None and tb is not None else None
                    if t is not None:
                        first_t = t if first_t is None else first_t
                    if packet.is_keyframe and t is not None:
                        key_times.append(t)
                    if len(frame_times) < 24:
                        try:
                            frame_times += [f.time for f in packet.decode()]
                        except av.error.FFmpegError as exc:
                            errors += 1
                            last_error = _reason(exc)
                    if packets >= GOP_PROBE_PACKETS or (
                        t is not None and first_t is not None and t - first_t > GOP_PROBE_S
                    ):
                        break
            except av.error.FFmpegError as exc:
                last_error = _reason(exc)
            if not frame_times:
                try:  # flush: short clips and decoders with delay give their frames only now
                    frame_times += [f.time for f in stream.codec_context.decode(None)]
                except av.error.EOFError:
                    pass
                except av.error.FFmpegError as exc:
                    last_error = last_error or _reason(exc)
            if not frame_times:
                detail = f" ({last_error})" if last_error else ""
                raise self._fail(f"no decodable {codec} video frames{detail}")
            intra_only = codec in INTRA_ONLY_CODECS or (packets > 1 and len(key_times) == packets)
            probed_s = (t - first_t) if (t is not None and first_t is not None) else 0.0
            self._flags_keyframes = bool(key_times)
            if len(key_times) >= 2:
                gaps = np.diff(sorted(key_times))
                self.gop_s = float(statistics.median(gaps))
                self._gop_regular = len(gaps) >= 2 and bool(np.all(np.abs(gaps - self.gop_s) <= GOP_REGULARITY * self.gop_s))
            elif key_times:
                self.gop_s = max(probed_s, self.interval * 2)  # one keyframe seen: GOP longer than the probe
            rate = float(stream.average_rate) if stream.average_rate else 25.0
            known = [x for x in frame_times if x is not None]
            diffs = np.diff(sorted(known)) if len(known) >= 2 else np.array([])
            diffs = diffs[diffs > 0]
            self.frame_dur = float(np.median(diffs)) if len(diffs) else 1.0 / rate
            self.index_timing = len(known) < len(frame_times) or any(
                b < a for a, b in itertools.pairwise(known)
            )
            if self.keyframes_only_opt is None:
                self.keyframes_only = (
                    not intra_only and self.gop_s is not None and self.gop_s <= self.interval * KEYFRAME_TOLERANCE
                )
        finally:
            container.close()

    # -- reading -------------------------------------------------------------------------------------
    def _interval(self) -> float:
        """The analysis interval now: the cadence's; with keyframes only a whole number of GOPs (a stretch to 2.5 s
        on a 2 s GOP would only shift which keyframe is picked, and decode the ones in between for nothing)."""
        if self.cadence is None:
            return self.interval
        wanted = self.cadence.interval_s
        if self.keyframes_only and self.gop_s and wanted > self.interval:
            wanted = max(self.interval, self.gop_s * math.floor(wanted / self.gop_s + 1e-6))
        return wanted

    def read(self) -> Iterator[tuple[np.ndarray, float]]:
        """Decoded frames at the analysis rate. Ends at the real end of a file; raises SourceError when a
        stream breaks (the live camera then reconnects)."""
        if self.container is None:
            self.open()
        container = self.container
        stream = container.streams.video[0]
        tb = stream.time_base
        cadence = self.cadence
        sampler = AnalysisSampler(self._interval())
        first_t: float | None = None
        last_t = -1e9
        n_out = 0
        consecutive_errors = 0
        key_times: list[float] = []
        learn_gop = self.stream_url and self.keyframes_only_opt is None and not self.keyframes_only
        # Full decode of a file with regular keyframes: once the next analysis time is at (or past) the next
        # keyframe, the non-key packets before it are not decoded (1 analysis/s on a 2 s GOP: every other GOP
        # half; a camera stretched to 2 s: keyframes only). Its picture is the one the sampler would pick anyway.
        # Only in keyframe mode "auto": "all" decodes every frame (the benchmarks' full-decode baseline).
        skip_ok = (self.keyframes_only_opt is None and not self.stream_url and self._flags_keyframes and self._gop_regular and bool(self.gop_s)
                   and not self.index_timing and tb is not None)
        last_key_t: float | None = None  # media time of the last keyframe packet (absolute)
        skipping = False  # dropping non-key packets until the next keyframe
        resume_pts: int | None = None  # after a skip: leading pictures of the keyframe (open GOP) are dropped too

        def frames_of(packet: Any) -> list[Any]:
            nonlocal consecutive_errors
            try:
                out = packet.decode() if packet is not None else stream.codec_context.decode(None)
                consecutive_errors = 0
                return out
            except av.error.EOFError:  # decoder already drained by the demuxer's final empty packet
                return []
            except av.error.FFmpegError as exc:
                consecutive_errors += 1
                self.stats.last_error = f"{self.camera_id}: decode error: {_reason(exc)}"
                if consecutive_errors > MAX_CONSECUTIVE_DECODE_ERRORS:
                    raise SourceError(
                        f"{self.camera_id}: cannot read {redact(self.url)}: too many decode errors ({_reason(exc)})"
                    ) from None
                return []

        def due(packet: Any) -> bool:
            """Keyframe-only decode: can the sampler pick this packet's picture? (Never when the next keyframe
            will be nearer to the next analysis time: keyframes are ``gop_s`` apart.)"""
            if first_t is None or sampler.next_t is None or self.index_timing or packet.pts is None or tb is None:
                return True
            window = 0.5 * min(sampler.interval, self.gop_s or sampler.interval) + self.frame_dur
            return float(packet.pts * tb) - first_t >= sampler.next_t - window

        def emit(decoded: list[Any]) -> Iterator[tuple[np.ndarray, float]]:
            nonlocal first_t, last_t, n_out
            for frame in decoded:
                self.stats.frames_decoded += 1
                t = frame.time
                if t is not None and t != t:  # drained at once (keyframes only): time from pts and the stream
                    t = float(frame.pts * tb) if frame.pts is not None and tb is not None else None
                if self.index_timing and not self.keyframes_only:
                    t = n_out * self.frame_dur + (first_t or 0.0)
                elif t is None or t <= last_t:
                    t = last_t + self.frame_dur if last_t > -1e9 else 0.0
                if first_t is None:
                    first_t = t
                n_out += 1
                last_t = t
                if cadence is not None:
                    sampler.set_interval(self._interval())
                for pts, picked in sampler.push(t - first_t, frame):
                    image = self._to_bgr(picked)
                    self.size = (image.shape[1], image.shape[0])
                    yield image, pts

        try:
            for packet in container.demux(stream):
                if self.keyframes_only and packet.size:
                    if packet.is_keyframe:
                        self.stats.keyframes_demuxed += 1
                    elif self._flags_keyframes and not self.stream_url:
                        continue  # the decoder would skip it anyway (skip_frame NONKEY): not even parsed
                    if cadence is not None:
                        sampler.set_interval(self._interval())
                    if not due(packet):
                        self.stats.keyframes_skipped += packet.is_keyframe
                        continue
                    if packet.is_keyframe:
                        decoded = frames_of(packet) + frames_of(None)  # out now, not after the next keyframes
                        stream.codec_context.flush_buffers()
                        yield from emit(decoded)
                        continue
                if skip_ok and packet.size and packet.pts is not None:
                    if packet.is_keyframe:
                        last_key_t = float(packet.pts * tb)
                        if skipping:
                            skipping, resume_pts = False, packet.pts
                    elif skipping or (resume_pts is not None and packet.pts < resume_pts):
                        self.stats.frames_skipped_to_keyframe += 1
                        continue
                decoded = frames_of(packet)
                if learn_gop:
                    # Decoded key frames, not packet flags: RTP depacketisers do not flag every keyframe.
                    key_times.extend(f.time for f in decoded if f.key_frame and f.time is not None)
                    if len(key_times) >= 4:
                        self.gop_s = float(statistics.median(np.diff(key_times)))
                        self.stats.gop_s = self.gop_s
                        if self.gop_s <= self.interval * KEYFRAME_TOLERANCE:
                            stream.codec_context.skip_frame = "NONKEY"
                            self.keyframes_only = self.stats.keyframes_only = True
                        learn_gop = False
                yield from emit(decoded)
                if skip_ok and not skipping and decoded and last_key_t is not None and first_t is not None \
                        and sampler.next_t is not None:
                    # the next keyframe is at least as near the next analysis time as any picture before it (a
                    # camera snapping back to its normal interval while skipping gets that keyframe, <= 1 GOP late)
                    if cadence is not None:
                        sampler.set_interval(self._interval())
                    next_key = last_key_t - first_t + self.gop_s  # type: ignore[operator]
                    skipping = sampler.next_t >= next_key - self.frame_dur / 2
            yield from emit(frames_of(None))
        except av.error.FFmpegError as exc:
            reason = _reason(exc)
            if self.stream_url:
                raise SourceError(f"{self.camera_id}: lost {redact(self.url)}: {reason}") from None
            # A file whose header promises more than it holds: stop cleanly at the real end.
            self.stats.last_error = f"{self.camera_id}: {Path(self.url).name} ended early: {reason}"

    def close(self) -> None:
        if self.container is not None:
            with contextlib.suppress(Exception):  # closing a broken stream must not mask the first error
                self.container.close()
            self.container = None


class VideoSource:
    """A video file (or a stream read without the live thread) as fast as it decodes.

    ``start_time``: the wall time of the first frame (default: the file's ``creation_time`` tag, else now).
    ``cadence``: an adaptive analysis interval (:class:`~detector.sources.cadence.AnalysisCadence`) whose owner
    observes each frame before asking for the next one, so the interval follows it frame by frame in media time.
    """

    def __init__(
        self,
        url: str,
        camera_id: str,
        *,
        analysis_fps: float = 1.0,
        keyframes_only: bool | None = None,
        decode: DecodeOptions | None = None,
        start_time: datetime | None = None,
        loop: bool = False,
        open_timeout_s: float = 10.0,
        read_timeout_s: float = 10.0,
        rtsp_transport: str = "tcp",
        cadence: AnalysisCadence | None = None,
    ) -> None:
        self.url = url
        self.camera_id = camera_id
        self.analysis_fps = analysis_fps
        self.loop = loop
        self.stats = SourceStats()
        self._reader_args = dict(
            analysis_fps=analysis_fps,
            decode=(decode or DecodeOptions()).with_keyframes_only(keyframes_only),
            open_timeout_s=open_timeout_s,
            read_timeout_s=read_timeout_s,
            rtsp_transport=rtsp_transport,
            cadence=cadence,
        )
        self.reader = PyAVReader(url, camera_id, stats=self.stats, **self._reader_args)  # type: ignore[arg-type]
        self.reader.open()  # errors surface at open_source time, not at the first frame
        self.start_time = start_time or self._creation_time() or datetime.now(UTC)
        if self.start_time.tzinfo is None:
            self.start_time = self.start_time.replace(tzinfo=UTC)
        self._closed = False

    @property
    def keyframes_only(self) -> bool:
        return self.reader.keyframes_only

    @property
    def gop_s(self) -> float | None:
        return self.reader.gop_s

    def _creation_time(self) -> datetime | None:
        tag = (self.reader.container.metadata or {}).get("creation_time") if self.reader.container else None
        if not tag:
            return None
        try:
            return datetime.fromisoformat(str(tag).replace("Z", "+00:00"))
        except ValueError:
            return None

    def frames(self) -> Iterator[Frame]:
        offset = 0.0
        index = 0
        reader = self.reader
        while not self._closed:
            last = 0.0
            for image, pts in reader.read():
                if self._closed:
                    break
                last = pts
                self.stats.frames_yielded += 1
                yield Frame(
                    camera_id=self.camera_id,
                    image=image,
                    pts_s=offset + pts,
                    wall_time=self.start_time + timedelta(seconds=offset + pts),
                    index=index,
                    meta={"source": self.url, "keyframes_only": reader.keyframes_only},
                )
                index += 1
            reader.close()
            if not self.loop or self._closed or index == 0:
                break
            offset += last + 1.0 / self.analysis_fps
            reader = self.reader = reader.reopened()
            reader.open()

    def close(self) -> None:
        self._closed = True
        self.reader.close()

