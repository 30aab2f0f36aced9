"""Per-camera tracking: cameras never share track state, ids persist while an object stays, and a long
silence or time going backwards starts fresh tracks."""

from __future__ import annotations

import numpy as np

from detector.detections import Detections
from detector.tracking import CameraTrackers, TrackingConfig

NAMES = ("bicycle", "chair")


def _det(*boxes: tuple[float, float, float, float], score: float = 0.9, cls: int = 0) -> Detections:
    xyxy = np.array(boxes, np.float32).reshape(-1, 4)
    n = len(xyxy)
    return Detections(xyxy=xyxy, confidence=np.full(n, score, np.float32), class_id=np.full(n, cls, np.int64),
                      class_names=NAMES)


def test_two_cameras_with_identical_detections_have_independent_tracks() -> None:
    trackers = CameraTrackers(TrackingConfig(lost_track_buffer_s=3.0), frame_rate=1.0)
    box = (100, 100, 160, 220)
    ids_a, ids_b = [], []
    for t in range(8):
        a = trackers.update("cam-a", _det(box), float(t))
        # cam-b sees the same box for two frames only, then its object is gone
        b = trackers.update("cam-b", _det(box) if t < 2 else Detections.empty(NAMES), float(t))
        ids_a.append(int(a.tracker_id[0]))
        ids_b += [int(i) for i in b.tracker_id]
    assert ids_a[0] == -1 and len(set(ids_a[1:])) == 1 and ids_a[1] >= 0  # confirmed on 2nd sighting, then stable
    assert ids_b == [-1, ids_b[1]] and ids_b[1] >= 0
    # cam-b's object reappears after its track expired: a new track in cam-b, cam-a untouched
    b = trackers.update("cam-b", _det(box), 8.0)
    b = trackers.update("cam-b", _det(box), 9.0)
    a = trackers.update("cam-a", _det(box), 8.0)
    assert int(a.tracker_id[0]) == ids_a[-1]
    assert int(b.tracker_id[0]) != ids_b[1]
    assert trackers.cameras() == ["cam-a", "cam-b"]


def test_moving_object_keeps_its_id_and_order_is_preserved() -> None:
    trackers = CameraTrackers(frame_rate=1.0)
    seen = []
    for t in range(6):
        walker = (50 + 10 * t, 100, 110 + 10 * t, 220)
        parked = (400, 300, 470, 380)
        out = trackers.update("cam-01", _det(parked, walker), float(t))
        assert np.array_equal(out.xyxy[1], np.array(walker, np.float32))  # input order kept
        seen.append(out.tracker_id.tolist())
    assert seen[0] == [-1, -1]
    assert all(ids == seen[1] for ids in seen[1:]) and len(set(seen[1])) == 2


def test_low_scores_extend_but_do_not_start_tracks() -> None:
    trackers = CameraTrackers(frame_rate=1.0)
    low = trackers.update("cam-01", _det((0, 0, 50, 50), score=0.3), 0.0)
    low = trackers.update("cam-01", _det((0, 0, 50, 50), score=0.3), 1.0)
    assert low.tracker_id.tolist() == [-1]
    box = (200, 200, 260, 300)
    trackers.update("cam-01", _det(box, score=0.9), 2.0)
    high = trackers.update("cam-01", _det(box, score=0.9), 3.0)
    weak = trackers.update("cam-01", _det(box, score=0.3), 4.0)  # partly hidden: score drops
    assert weak.tracker_id.tolist() == high.tracker_id.tolist() != [-1]


def test_gap_or_time_reset_starts_fresh_tracks() -> None:
    trackers = CameraTrackers(frame_rate=1.0, reset_after_gap_s=60.0)
    box = (10, 10, 60, 90)
    trackers.update("cam-01", _det(box), 0.0)
    first = trackers.update("cam-01", _det(box), 1.0).tracker_id.tolist()
    assert trackers.update("cam-01", _det(box), 200.0).tracker_id.tolist() == [-1]  # after an outage: new
    again = trackers.update("cam-01", _det(box), 201.0).tracker_id.tolist()
    assert again[0] > first[0]  # ids never repeat within a camera, so old and new tracks cannot be confused
    assert trackers.update("cam-01", _det(box), 5.0).tracker_id.tolist() == [-1]  # a new file: time went back
    assert len(trackers.update("cam-02", Detections.empty(NAMES), 0.0)) == 0


def test_lost_track_budget_is_seconds_at_each_cameras_analysis_rate() -> None:
    """lost_track_buffer_s is seconds on every camera: 4 s is 8 analysis steps at 2/s, 2 steps at 0.5/s, so the
    same four missed analyses keep the fast camera's track (2 s gone) and end the slow one's (8 s gone)."""
    trackers = CameraTrackers(TrackingConfig(lost_track_buffer_s=4.0), frame_rates={"fast": 2.0, "slow": 0.5})
    assert trackers.frame_rate("fast") == 2.0 and trackers.frame_rate("other") == 1.0
    box = (100, 100, 160, 220)
    seen: dict[str, list[int]] = {"fast": [], "slow": []}
    for step in range(7):
        present = step < 2 or step == 6  # steps 2-5 missed
        for cam, fps in (("fast", 2.0), ("slow", 0.5)):
            out = trackers.update(cam, _det(box) if present else Detections.empty(NAMES), step / fps)
            seen[cam] += [int(i) for i in out.tracker_id]
    assert seen["fast"][1] >= 0 and seen["fast"][-1] == seen["fast"][1]  # the same object, the same id
    assert seen["slow"][1] >= 0 and seen["slow"][-1] != seen["slow"][1]  # its track had expired


def test_a_track_never_passes_from_one_class_to_another() -> None:
    """A person walks off where a bicycle then stands: class-blind ByteTrack gave the bicycle the person's id,
    and the rules, which take an id for one object, counted the person's later readings as the bicycle's."""
    trackers = CameraTrackers(frame_rate=1.0)
    spot = (100, 100, 160, 220)
    person = [trackers.update("cam-01", _det(spot, cls=1), float(t)).tracker_id[0] for t in range(3)]
    bike = [trackers.update("cam-01", _det(spot, cls=0), float(t)).tracker_id[0] for t in range(3, 6)]
    assert person[1] >= 0 and person[2] == person[1]
    assert bike[0] == -1 and bike[1] >= 0 and bike[2] == bike[1] and bike[1] != person[1]
    both = trackers.update("cam-01", Detections.merge([_det(spot, cls=0), _det((300, 100, 360, 220), cls=1)]), 6.0)
    assert both.tracker_id[0] == bike[1] and both.tracker_id[1] != both.tracker_id[0]
