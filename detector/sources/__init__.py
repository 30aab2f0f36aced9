"""Camera sources: video files, image folders and RTSP streams, all yielding `detector.frames.Frame`.

`open_source` (``opener``) picks the reader; ``base`` holds the shared types; ``video`` (PyAV files),
``live`` (latest-frame thread per stream), ``files`` (a file camera of the edge, retried when unreadable),
``images`` (image folders), ``cadence`` (a camera's analysis interval, stretched while its picture is unchanged).
"""

from detector.sources.base import (
    IMAGE_SUFFIXES,
    KEYFRAME_MODES,
    DecodeOptions,
    KeyframeMode,
    Source,
    SourceError,
    SourceStats,
    is_stream_url,
    redact,
)
from detector.sources.cadence import AdaptiveIntervalConfig, AnalysisCadence
from detector.sources.opener import open_source

__all__ = ["IMAGE_SUFFIXES", "KEYFRAME_MODES", "AdaptiveIntervalConfig", "AnalysisCadence", "DecodeOptions",
           "KeyframeMode", "Source", "SourceError", "SourceStats", "is_stream_url", "open_source", "redact"]
