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

from pathlib import Path

from detector.sources.base import Source, SourceError, is_stream_url

_STREAM_OPTIONS = {"keyframes_only", "decode", "start_time", "loop", "open_timeout_s", "read_timeout_s", "rtsp_transport",
                   "cadence"}
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
    ``rtsp_transport`` ("tcp"/"udp"), ``cadence`` (an adaptive analysis interval,
    :class:`~detector.sources.cadence.AnalysisCadence`); live only: ``backoff_initial_s``, ``backoff_max_s``, ``slot_size``,
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

