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
    assert [r.name for r in refs] == ["frame.jpg", "crop.jpg", "raw.jpg", "clip.mp4"]
    for ref in refs:
        data = paths[ref.name].read_bytes()
        assert ref.size == len(data) and ref.sha256 == hashlib.sha256(data).hexdigest()
    frame = cv2.imread(str(paths["frame.jpg"]))
    assert frame.shape == (360, 480, 3)
    # the zone outline (yellow) is drawn where the polygon edge runs
    b, g, r = frame[180, 250].astype(int)
    assert r > 180 and g > 150 and b < 120
    # the raw frame is the picture as the camera saw it: nothing drawn where the zone outline runs
    raw = cv2.imread(str(paths["raw.jpg"]))
    assert raw.shape == (360, 480, 3)
    assert np.abs(raw.astype(int) - scene(11).astype(int)).mean() < 3
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
    assert [r.name for r in refs] == ["frame.jpg", "raw.jpg"]
    assert "No space left on device" in caplog.text


def test_event_still_goes_out_when_evidence_cannot_be_written(tmp_path: Path) -> None:
    """Scripted detections through the per-camera analyzer; the evidence folder cannot be created."""
    from datetime import UTC, datetime, timedelta

    from detector.classmap import ClassMap
    from detector.detections import Detections
    from detector.events import ModelInfo
    from detector.frames import Frame
    from detector.pipeline.analyzer import CameraAnalyzer
    from detector.uplink import Outbox
    from detector.zones.schema import parse_zones

    zones = parse_zones({"camera": "cam-01", "defaults": {"dwell_s": 2, "clear_s": 2},
                         "zones": [{"id": "z-a", "kind": "sidewalk", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]],
                                    "forbid": ["exposed_garbage"]}]})
    blocker = tmp_path / "file"
    blocker.write_text("x")
    analyzer = CameraAnalyzer("cam-01", zones, ClassMap.from_dict({"classes": {"trash_bag": "exposed_garbage"}}),
                              ModelInfo(name="m", version="1"), evidence=EvidenceWriter(blocker / "ev"), clip_s=3)
    bag = Detections(xyxy=BOXES, confidence=np.array([0.7], np.float32), class_id=np.array([0]),
                     class_names=("trash_bag",))
    t0 = datetime(2026, 5, 1, tzinfo=UTC)
    emitted = [e for t in range(4) for e in analyzer.process(Frame("cam-01", scene(), float(t), t0 + timedelta(seconds=t)), bag)]
    (started,) = emitted
    assert started.event.type == "violation_started" and started.event.evidence == [] and started.files == {}
    assert started.event.detections[0].box == pytest.approx([200 / 480, 200 / 360, 260 / 480, 300 / 360])
    box = Outbox(tmp_path / "o.db")
    assert box.put(started.event, started.files) and box.depth() == 1
