"""Batcher: one backend call per batch across cameras, max_batch, max_wait, fairness, motion gating and
tracking folded in, live cameras and offline sources. The backend is real ONNX Runtime running a tiny
generated model (instant), wrapped to record each call's batch size."""

from __future__ import annotations

import collections
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from detector import metrics
from detector.batching import AnalysedFrame, Batcher
from detector.detections import Detections
from detector.frames import Frame
from detector.gating import MotionGateConfig
from detector.inference import ModelConfig, load_backend
from detector.sources import open_source
from detector.sources.live import LiveCamera
from detector.tracking import CameraTrackers
from tests.helpers.rtsp_server import make_h264_clip

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


class RecordingBackend:
    """The real backend, plus a record of the batch size of every infer call."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.calls: list[int] = []
        self.backend, self.max_batch, self.class_names = inner.backend, inner.max_batch, inner.class_names

    def infer(self, images: Sequence[np.ndarray]) -> list[Detections]:
        self.calls.append(len(images))
        return self.inner.infer(images)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)  # input_size and the rest, as the real backend has them


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("onnx", reason="building the test model needs the onnx package (train extra)")
    from detector.inference.testing import write_fixed_output_model

    return write_fixed_output_model(tmp_path_factory.mktemp("m") / "m.onnx", [[100, 200, 300, 400, 0.9, 0]], ["bin"])


@pytest.fixture()
def backend(model: Path) -> RecordingBackend:
    return RecordingBackend(load_backend(ModelConfig(path=str(model), max_batch=16)))


def _frame(cam: str, t: float, value: int = 100, size: tuple[int, int] = (320, 240)) -> Frame:
    return Frame(cam, np.full((size[1], size[0], 3), value, np.uint8), t, T0)


class SlotCamera:
    """In-test stand-in for a LiveCamera's consumer side (the FrameProvider protocol): frames put by the test."""

    def __init__(self, camera_id: str) -> None:
        self.camera_id = camera_id
        self.slot: collections.deque[Frame] = collections.deque(maxlen=1)

    def latest(self) -> Frame | None:
        return self.slot.popleft() if self.slot else None


def test_frames_of_many_cameras_go_in_batches_of_max_batch(backend: RecordingBackend) -> None:
    batcher = Batcher(backend, max_batch=2)
    frames = [_frame(f"cam-{i}", 0.0) for i in range(5)]
    results = batcher.infer(frames)
    assert backend.calls == [2, 2, 1]
    assert [r.frame.camera_id for r in results] == [f.camera_id for f in frames]
    assert all(r.inferred and len(r.detections) == 1 for r in results)


def test_frames_share_a_batch_per_canvas(model: Path, tmp_path: Path) -> None:
    """A dynamic-size model letterboxes each batch into one canvas: cameras of two sizes (one run smaller on
    purpose, 480 wide under a 640 model) get one batch per canvas, results in the input order. A fixed-shape
    model has one canvas, so the same frames share batches (the other tests here)."""
    from detector.inference.testing import write_fixed_output_model

    dynamic = write_fixed_output_model(tmp_path / "dyn.onnx", [[100, 200, 300, 400, 0.9, 0]], ["bin"], dynamic_size=True)
    backend = RecordingBackend(load_backend(ModelConfig(path=str(dynamic), imgsz=640)))
    sizes = [(640, 360), (480, 270), (640, 360), (480, 270), (640, 360)]
    frames = [_frame(f"cam-{i}", 0.0, size=size) for i, size in enumerate(sizes)]
    results = Batcher(backend, max_batch=4).infer(frames)
    assert backend.calls == [3, 2]
    assert [r.frame.camera_id for r in results] == [f.camera_id for f in frames]
    assert all(r.inferred and len(r.detections) == 1 for r in results)
    fixed = RecordingBackend(load_backend(ModelConfig(path=str(model))))
    Batcher(fixed, max_batch=4).infer(frames)
    assert fixed.calls == [4, 1]


def test_collect_takes_one_frame_per_camera_and_rotates(backend: RecordingBackend) -> None:
    cams = [SlotCamera(f"cam-{i}") for i in range(5)]
    batcher = Batcher(backend, max_batch=2, max_wait_ms=20)
    served = collections.Counter()
    for t in range(5):
        for cam in cams:
            cam.slot.append(_frame(cam.camera_id, float(t)))
        for result in batcher.step(cams, timeout=0.5):
            served[result.frame.camera_id] += 1
    assert backend.calls == [2] * 5
    assert sorted(served) == [c.camera_id for c in cams]  # every camera got turns despite max_batch < cameras


def test_partial_batch_after_max_wait_and_empty_after_timeout(backend: RecordingBackend) -> None:
    ready, silent = SlotCamera("cam-ready"), SlotCamera("cam-silent")
    ready.slot.append(_frame("cam-ready", 0.0))
    batcher = Batcher(backend, max_batch=4, max_wait_ms=30)
    results = batcher.step([silent, ready], timeout=2.0)
    assert [r.frame.camera_id for r in results] == ["cam-ready"]  # did not wait for the silent camera forever
    assert batcher.step([silent, ready], timeout=0.05) == []
    assert backend.calls == [1]


def test_a_gated_round_takes_more_frames_than_a_batch(backend: RecordingBackend) -> None:
    """With a gate on, one round takes up to ``max_collect`` cameras' frames (the gate skips most of them) and
    runs the due ones in batches of ``max_batch``: 40 quiet cameras are served in one round, not five, so no
    camera's frame is overwritten in its slot while it waits for its turn (issue 18, 50+ quiet cameras)."""
    cams = [SlotCamera(f"cam-q{i}") for i in range(40)]
    batcher = Batcher(backend, max_batch=8, max_collect=64, max_wait_ms=0, gate=MotionGateConfig(max_skip_s=60))
    rounds = []
    for t in range(3):
        for cam in cams:
            cam.slot.append(_frame(cam.camera_id, float(t)))
        rounds.append(len(batcher.step(cams, timeout=0.5)))
    assert rounds == [40, 40, 40]
    # the first round runs every camera once (nothing to hold yet); then only forced re-checks (their phases
    # spread the cameras over max_skip_s) go to the model
    assert backend.calls[:5] == [8] * 5 and sum(backend.calls[5:]) <= 4
    ungated = Batcher(backend, max_batch=8, max_collect=64, max_wait_ms=0)
    for cam in cams:
        cam.slot.append(_frame(cam.camera_id, 9.0))
    assert len(ungated.step(cams, timeout=0.5)) == 8  # without a gate a round is one batch


def test_collect_serves_cameras_round_robin(backend: RecordingBackend) -> None:
    """More ready cameras than a round takes: each round starts after the last camera served."""
    cams = [SlotCamera(f"cam-r{i}") for i in range(5)]
    batcher = Batcher(backend, max_batch=2, max_wait_ms=0)
    order = []
    for t in range(5):
        for cam in cams:
            if not cam.slot:
                cam.slot.append(_frame(cam.camera_id, float(t)))
        order.append([r.frame.camera_id[-1] for r in batcher.step(cams, timeout=0.5)])
    assert order == [["0", "1"], ["2", "3"], ["4", "0"], ["1", "2"], ["3", "4"]]


def test_gating_skips_static_frames_and_reuses_detections(backend: RecordingBackend) -> None:
    batcher = Batcher(backend, gate=MotionGateConfig(mode="motion", max_skip_s=5.0), trackers=CameraTrackers(frame_rate=1.0))
    skipped_before = metrics.FRAMES_SKIPPED.labels("cam-g")._value.get()
    out: list[AnalysedFrame] = []
    for t in range(7):
        value = 200 if t == 3 else 100  # something changes at t=3, and back at t=4
        out += batcher.infer([_frame("cam-g", float(t), value), _frame("cam-h", float(t), 50)])
    g = [r for r in out if r.frame.camera_id == "cam-g"]
    assert [r.inferred for r in g] == [True, False, False, True, True, False, False]
    assert all(np.array_equal(r.detections.xyxy, g[0].detections.xyxy) for r in g)
    h = [r for r in out if r.frame.camera_id == "cam-h"]
    # forced re-check after max_skip_s, brought forward by the second camera's phase (0.618 x 5 s): cameras
    # that start together do not all re-check at once
    assert batcher.gates["cam-g"].phase == 0.0 and batcher.gates["cam-h"].phase == pytest.approx(0.618, abs=1e-3)
    assert [r.inferred for r in h] == [True, False, True, False, False, False, False]  # forced at 5 - 3.09 s
    assert g[4].detections.tracker_id is not None and g[4].detections.tracker_id[0] >= 0
    assert backend.calls == [2, 1, 1, 1]
    assert batcher.frames_skipped == 9 and batcher.frames_inferred == 5
    assert metrics.FRAMES_SKIPPED.labels("cam-g")._value.get() - skipped_before == 4


def test_iter_sources_rounds_until_all_sources_end(backend: RecordingBackend, tmp_path: Path) -> None:
    short = make_h264_clip(tmp_path / "short.mp4", seconds=3, fps=5, gop_s=1.0)
    long = make_h264_clip(tmp_path / "long.mp4", seconds=6, fps=5, gop_s=1.0, size=(640, 360))
    sources = [open_source(str(short), "cam-s"), open_source(str(long), "cam-l")]
    rounds = list(Batcher(backend).iter_sources([s.frames() for s in sources]))
    assert [len(r) for r in rounds] == [2, 2, 2, 1, 1, 1]
    assert backend.calls == [2, 2, 2, 1, 1, 1]
    assert rounds[0][1].detections.xyxy[0].tolist() == pytest.approx([100, 200 - 140, 300, 400 - 140])


def test_live_cameras_share_batches(backend: RecordingBackend, tmp_path: Path) -> None:
    clips = [make_h264_clip(tmp_path / f"c{i}.mp4", seconds=30, fps=5, gop_s=1.0) for i in range(3)]
    cams = [LiveCamera(str(c), f"live-{i}", analysis_fps=2.0, loop=True) for i, c in enumerate(clips)]
    batcher = Batcher(backend, max_batch=8, max_wait_ms=100)
    for cam in cams:
        cam.on_frame = batcher.wake
        cam.start()
    results: list[AnalysedFrame] = []
    stop = threading.Event()

    def on_results(batch: list[AnalysedFrame]) -> None:
        results.extend(batch)
        if len(results) >= 12:
            stop.set()

    runner = threading.Thread(target=batcher.run, args=(cams, on_results, stop), daemon=True)
    runner.start()
    runner.join(30)
    for cam in cams:
        cam.stop()
    assert not runner.is_alive()
    assert {r.frame.camera_id for r in results} == {"live-0", "live-1", "live-2"}
    assert max(backend.calls) >= 2  # frames of different cameras went through the model together
    assert sum(backend.calls) == len(results)


def test_metrics_endpoint_serves_the_edge_registry(backend: RecordingBackend) -> None:
    import urllib.request

    from tests.helpers.rtsp_server import free_port

    Batcher(backend, max_batch=2).infer([_frame("cam-m", 0.0), _frame("cam-n", 0.0)])
    metrics.OUTBOX_DEPTH.set(3)
    port = free_port()
    assert metrics.start_metrics_server(port) == ("127.0.0.1", port)  # loopback unless metrics_host says otherwise
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    assert 'frontage_frames_analysed_total{camera="cam-m"} 1.0' in text
    assert "frontage_outbox_depth 3.0" in text
    assert 'frontage_batch_size_bucket{le="2.0"}' in text
    assert "frontage_inference_seconds_count" in text
    assert "process_cpu_seconds_total" not in text  # own registry: only Frontage's metrics


def test_poll_interval_must_be_positive(backend: RecordingBackend) -> None:
    with pytest.raises(ValueError, match="poll_s must be > 0, got 0"):
        Batcher(backend, poll_s=0)
