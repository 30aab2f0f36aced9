"""What every camera source shares: `SourceError`, `SourceStats`, `DecodeOptions`, the `Source` protocol."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol, runtime_checkable

from detector.frames import Frame


class SourceError(Exception):
    """A source cannot be opened or read; the message is one line naming camera, source and reason."""


@dataclass
class SourceStats:
    """Counters a source keeps about itself (read by metrics and health checks; updated by one thread)."""

    frames_decoded: int = 0  # pictures the decoder produced
    keyframes_demuxed: int = 0  # keyframe packets read while decoding keyframes only
    keyframes_skipped: int = 0  # of them, not decoded: too early for the next analysis time (the next is nearer)
    frames_skipped_to_keyframe: int = 0  # full decode: non-key packets not decoded, the next pick being a keyframe
    frames_yielded: int = 0  # frames handed on at the analysis rate
    frames_dropped: int = 0  # frames overwritten in the latest-frame slot before anyone took them
    reconnects: int = 0
    decode_errors: int = 0  # opens/reads/decodes that failed (each one is followed by a reconnect try)
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
    ``skip_loop_filter``: skip H.264/HEVC deblocking (``skip_loop_filter=all``): up to 8 % less keyframe decode
    (sample clips; none measurable on the 720p bench street), pictures differ by 0.2-0.3 grey levels on average,
    yet 3-7 % of the model's boxes move or change score; off by default (the edge.yaml camera field).

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
