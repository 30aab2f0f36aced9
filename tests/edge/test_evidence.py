"""Evidence files: annotated frame, crop, clip; write errors are logged and cost nothing but the file."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from detector.evidence import EvidenceWriter, FrameRing


def scene(t: int = 0) -> np.ndarray:
    img = np.full((360, 480, 3), 90, np.uint8)
    cv2.rectangle(img, (200 + t, 200), (260 + t, 300), (30, 140, 30), -1)
    return img


POLY = np.array([[100, 180], [400, 180], [400, 350], [100, 350]])
BOXES = np.array([[200, 200, 260, 300]], np.float32)


def write(writer: EvidenceWriter, ring: FrameRing | None = None):
    return writer.write(camera="cam-01", episode_id="ep-abc", seq=0, image=scene(), polygon_px=POLY,
                        fixtures_px=[np.array([[300, 300], [340, 300], [340, 340], [300, 340]])],
                        boxes=BOXES, labels=["chair 0.81"], header="cam-01 z-a out_of_store_trading", ring=ring)


def test_frame_crop_and_clip(tmp_path: Path) -> None:
    ring = FrameRing(seconds=5)
    for t in range(12):
        ring.push(float(t), scene(t))
    assert len(ring.frames) == 6  # t 6..11
    refs, paths = write(EvidenceWriter(tmp_path), ring)
    assert [r.name for r in refs] == ["frame.jpg", "crop.jpg", "clip.mp4"]
    for ref in refs:
        data = paths[ref.name].read_bytes()
        assert ref.size == len(data) and ref.sha256 == hashlib.sha256(data).hexdigest()
    frame = cv2.imread(str(paths["frame.jpg"]))
    assert frame.shape == (360, 480, 3)
    # the zone outline (yellow) is drawn where the polygon edge runs
    b, g, r = frame[180, 250].astype(int)
    assert r > 180 and g > 150 and b < 120
    crop = cv2.imread(str(paths["crop.jpg"]))
    assert 100 <= crop.shape[0] <= 160 and 64 <= crop.shape[1] <= 100
    with av.open(str(paths["clip.mp4"])) as c:
        frames = list(c.decode(video=0))
    assert len(frames) == 6 and frames[0].width == 480


def test_unwritable_dir_logs_and_returns_no_evidence(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The evidence root lies under a plain file: mkdir fails for real (root ignores chmod, so no chmod)."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    writer = EvidenceWriter(blocker / "evidence")
    with caplog.at_level(logging.ERROR, logger="frontage.evidence"):
        refs, paths = write(writer)
    assert refs == [] and paths == {} and writer.errors == 1
    assert "cannot create evidence folder" in caplog.text and "sent without it" in caplog.text


def test_full_disk_keeps_what_was_written(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """/dev/full is a real device that fails every write with ENOSPC: a real "disk full"."""
    if not os.path.exists("/dev/full"):
        pytest.skip("/dev/full is absent")
    writer = EvidenceWriter(tmp_path)
    folder = tmp_path / "cam-01" / "ep-abc"
    folder.mkdir(parents=True)
    (folder / "0-crop.jpg").symlink_to("/dev/full")
    with caplog.at_level(logging.ERROR, logger="frontage.evidence"):
        refs, _ = write(writer)
    assert [r.name for r in refs] == ["frame.jpg"]
    assert "No space left on device" in caplog.text
