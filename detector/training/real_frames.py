"""Decoded frames of the real clips in ``../shared/videos`` (mp4, avi, gif), sampled evenly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

VIDEO_SUFFIXES = (".mp4", ".avi", ".gif", ".mkv", ".mov")


def video_files(shared: Path) -> list[Path]:
    folder = Path(shared) / "videos"
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES) if folder.is_dir() else []


def decode_frames(path: Path) -> Iterator[np.ndarray]:
    """Every decodable frame as BGR; stops quietly at a broken tail (some real files claim more frames)."""
    import av

    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise ValueError(f"cannot open video {path}: {exc}") from None
    with container:
        stream = container.streams.video[0]
        try:
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="bgr24")
        except av.error.FFmpegError:
            return


def sample_frames(path: Path, every: int) -> list[tuple[int, np.ndarray]]:
    """(frame index, BGR image) for every ``every``-th frame."""
    return [(i, img) for i, img in enumerate(decode_frames(path)) if i % every == 0]
