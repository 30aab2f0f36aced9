"""Camera sources: video files, image folders and RTSP streams, all yielding `detector.frames.Frame`.

One entry point, :func:`open_source`, picks the right reader from the URL::

    src = open_source("clip.mp4", "cam-01", analysis_fps=1.0)          # file: as fast as it decodes
    src = open_source("rtsp://10.0.0.5/cam", "cam-02")                   # live: latest-frame thread
    src = open_source("frames/", "cam-03", image_fps=2.0)                # sorted images, fixed timing
    for frame in src.frames():
        ...
    src.close()

Every problem opening or reading a source is a :class:`SourceError` whose message is one line that
names the camera, the source and the reason.

>>> try:
...     open_source("/nonexistent/clip.mp4", "cam-01")
... except SourceError as exc:
...     print(exc)
cam-01: cannot open /nonexistent/clip.mp4: no such file
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from detector.frames import Frame


class SourceError(Exception):
    """A source cannot be opened or read; the message is one line naming camera, source and reason."""


@dataclass
class SourceStats:
    """Counters a source keeps about itself (read by metrics and health checks; updated by one thread)."""

    frames_decoded: int = 0  # pictures the decoder produced
    frames_yielded: int = 0  # frames handed on at the analysis rate
    frames_dropped: int = 0  # frames overwritten in the latest-frame slot before anyone took them
    reconnects: int = 0
    last_error: str | None = None
    healthy: bool = True
    lag_s: float = 0.0  # wall-clock delay between a frame's decode and its hand-over (live sources)
    keyframes_only: bool = False  # decoder skips non-key frames
    gop_s: float | None = None  # measured keyframe interval
    extra: dict[str, object] = field(default_factory=dict)


KeyframeMode = Literal["auto", "keyframes", "all"]
KEYFRAME_MODES: tuple[str, ...] = ("auto", "keyframes", "all")


@dataclass(frozen=True)
class DecodeOptions:
    """How a file or stream is decoded; one object shared by ``PyAVReader``, ``VideoSource`` and ``LiveCamera``.

    ``keyframes``: "auto" decodes only keyframes when the GOP is no longer than the analysis interval (files
    learn it from a probe, streams from their first keyframes), "keyframes" always, "all" never.
    ``width``: analysis width; a wider picture is scaled down (aspect kept) in the same swscale pass that
    converts it to BGR. None: as decoded. Zones are normalised and events carry normalised boxes, so the
    width changes pixel counts only (evidence JPEGs are drawn on this frame: keep it legible).
    ``threads``: decoder threads (0: ffmpeg's choice, frame + slice threads; None: the source's default,
    1 for live cameras, where 40 decoders already share the cores, 0 for files read as fast as possible).
    ``skip_loop_filter``: skip H.264/HEVC deblocking (a few % of decode; pictures differ by well under one
    grey level on the generated street; off by default).

    >>> DecodeOptions(keyframes="all").keyframes_only, DecodeOptions().keyframes_only
    (False, None)
    >>> DecodeOptions(width=100)
    Traceback (most recent call last):
    ...
    ValueError: analysis width must be an integer from 160 to 7680, got 100
    """

    keyframes: KeyframeMode = "auto"
    width: int | None = None
    threads: int | None = None
    skip_loop_filter: bool = False

    def __post_init__(self) -> None:
        if self.keyframes not in KEYFRAME_MODES:
            raise ValueError(f"keyframes must be one of {', '.join(KEYFRAME_MODES)}, got {self.keyframes!r}")
        if self.width is not None and (isinstance(self.width, bool) or not isinstance(self.width, int)
                                       or not 160 <= self.width <= 7680):
            raise ValueError(f"analysis width must be an integer from 160 to 7680, got {self.width!r}")
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                         or not 0 <= self.threads <= 64):
            raise ValueError(f"decoder threads must be an integer from 0 to 64, got {self.threads!r}")

    @property
    def keyframes_only(self) -> bool | None:
        """True/False when forced, None when the source decides from the GOP."""
        return {"auto": None, "keyframes": True, "all": False}[self.keyframes]

    def with_keyframes_only(self, keyframes_only: bool | None) -> DecodeOptions:
        """These options with the older ``keyframes_only`` switch applied (None leaves them as they are)."""
        if keyframes_only is None:
            return self
        return replace(self, keyframes="keyframes" if keyframes_only else "all")

    def scaled_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) a decoded picture is converted to: narrowed to ``width``, even sizes for swscale.

        >>> DecodeOptions(width=640).scaled_size(1280, 720), DecodeOptions(width=960).scaled_size(640, 360)
        ((640, 360), (640, 360))
        """
        if self.width is None or width <= self.width:
            return width, height
        return self.width - self.width % 2, max(2, round(height * self.width / width / 2) * 2)


@runtime_checkable
class Source(Protocol):
    camera_id: str
    stats: SourceStats

    def frames(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def redact(url: str) -> str:
    """Hide the password of ``rtsp://user:pass@host`` in messages and logs."""
    if "://" in url and "@" in url.split("://", 1)[1].split("/", 1)[0]:
        scheme, rest = url.split("://", 1)
        cred, host = rest.split("@", 1)
        user = cred.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


def is_stream_url(url: str) -> bool:
    return url.lower().startswith(("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://"))


_STREAM_OPTIONS = {"keyframes_only", "decode", "start_time", "loop", "open_timeout_s", "read_timeout_s", "rtsp_transport"}
_LIVE_ONLY_OPTIONS = {"backoff_initial_s", "backoff_max_s", "slot_size", "pace"}
_FOLDER_OPTIONS = {"image_fps"}


def open_source(
    url: str,
    camera_id: str,
    *,
    analysis_fps: float = 1.0,
    realtime: bool | None = None,
    **options: object,
) -> Source:
    """Open a video file, an image folder or a stream URL as a :class:`Source`.

    ``realtime`` defaults to True for streams (a thread keeps only the latest frame) and False for files
    and folders (every analysis frame, as fast as decoding allows). A file opened with ``realtime=True``
    is paced at media speed, like a camera (``loop=True`` repeats it).

    Options for files and streams: ``decode`` (:class:`DecodeOptions`), ``keyframes_only`` (shortcut for
    ``decode.keyframes``: None = decide from the GOP), ``start_time``
    (datetime of the first frame for files), ``loop`` (files), ``open_timeout_s``, ``read_timeout_s``,
    ``rtsp_transport`` ("tcp"/"udp"); live only: ``backoff_initial_s``, ``backoff_max_s``, ``slot_size``,
    ``pace`` (ignored when not realtime).
    Image folders: ``image_fps`` (the rate the pictures were taken at, default ``analysis_fps``).
    """
    if analysis_fps <= 0:
        raise SourceError(f"{camera_id}: analysis_fps must be > 0, got {analysis_fps}")
    unknown = sorted(set(options) - _STREAM_OPTIONS - _LIVE_ONLY_OPTIONS - _FOLDER_OPTIONS)
    if unknown:
        raise SourceError(f"{camera_id}: unknown source option(s): {', '.join(unknown)}")
    stream = is_stream_url(url)
    if realtime is None:
        realtime = stream
    if not stream:
        path = Path(url)
        if not path.exists():
            raise SourceError(f"{camera_id}: cannot open {url}: no such file")
        if path.is_dir():
            from detector.sources.images import ImageFolderSource

            if realtime:
                raise SourceError(f"{camera_id}: cannot open {url}: realtime image folders are not supported")
            folder_options = {k: v for k, v in options.items() if k in _FOLDER_OPTIONS}
            return ImageFolderSource(path, camera_id, analysis_fps=analysis_fps, **folder_options)  # type: ignore[arg-type]
    options = {k: v for k, v in options.items() if k not in _FOLDER_OPTIONS}
    if realtime:
        from detector.sources.live import LiveSource

        return LiveSource(url, camera_id, analysis_fps=analysis_fps, **options)  # type: ignore[arg-type]
    from detector.sources.video import VideoSource

    options = {k: v for k, v in options.items() if k not in _LIVE_ONLY_OPTIONS}
    return VideoSource(url, camera_id, analysis_fps=analysis_fps, **options)  # type: ignore[arg-type]


__all__ = ["IMAGE_SUFFIXES", "KEYFRAME_MODES", "DecodeOptions", "KeyframeMode", "Source", "SourceError", "SourceStats", "is_stream_url", "open_source", "redact"]
