"""Decode options (one ``DecodeOptions`` for files, streams and live cameras): keyframe mode, analysis width,
decoder threads; the edge.yaml camera fields that set them; the staggered forced re-checks of the gate."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import yaml

from detector.batching import Batcher
from detector.config import ConfigError, load_edge_config
from detector.frames import Frame
from detector.gating import MotionGate, MotionGateConfig
from detector.sources import DecodeOptions, SourceError, open_source
from detector.sources.live import LiveCamera
from detector.sources.video import PyAVReader
from tests.helpers.rtsp_server import make_h264_clip

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    return {
        "gop1": make_h264_clip(d / "gop1.mp4", seconds=4, fps=10, gop_s=1.0, size=(640, 360)),
        "gop2": make_h264_clip(d / "gop2.mp4", seconds=4, fps=10, gop_s=2.0, size=(640, 360)),
        "gop2x3": make_h264_clip(d / "gop2x3.mp4", seconds=6, fps=10, gop_s=2.0, size=(640, 360)),
    }


def _read(url: Path, **kw: object) -> tuple[object, list[Frame]]:
    src = open_source(str(url), "cam-01", analysis_fps=1.0, **kw)  # type: ignore[arg-type]
    frames = list(src.frames())  # type: ignore[attr-defined]
    src.close()  # type: ignore[attr-defined]
    return src, frames


def test_keyframe_modes(clips: dict[str, Path]) -> None:
    auto, auto_frames = _read(clips["gop1"])
    every, every_frames = _read(clips["gop1"], decode=DecodeOptions(keyframes="all"))
    forced, forced_frames = _read(clips["gop2"], decode=DecodeOptions(keyframes="keyframes"))
    assert auto.stats.keyframes_only and auto.stats.frames_decoded == 4  # type: ignore[attr-defined]
    assert not every.stats.keyframes_only and every.stats.frames_decoded == 40  # type: ignore[attr-defined]
    assert [f.pts_s for f in auto_frames] == pytest.approx([f.pts_s for f in every_frames])
    # forced on a 2 s GOP: only the keyframes, fewer frames than the analysis rate asks for
    assert forced.stats.keyframes_only and [round(f.pts_s) for f in forced_frames] == [0, 2]  # type: ignore[attr-defined]
    # the older keyframes_only switch still works and wins over decode.keyframes
    legacy, _ = _read(clips["gop1"], keyframes_only=False, decode=DecodeOptions(keyframes="keyframes"))
    assert not legacy.stats.keyframes_only  # type: ignore[attr-defined]


def test_full_decode_skips_to_the_keyframe_when_the_next_pick_is_one(clips: dict[str, Path]) -> None:
    """1 analysis/s on a 2 s GOP: after the mid-GOP pick the next one is the keyframe, so the pictures between
    are not decoded; the frames handed on are the same (times and pixels) as with every frame decoded."""
    auto, auto_frames = _read(clips["gop2x3"])  # three keyframes: regular enough to foresee the next
    every, every_frames = _read(clips["gop2x3"], decode=DecodeOptions(keyframes="all"))
    assert not auto.stats.keyframes_only  # type: ignore[attr-defined]
    assert auto.stats.frames_skipped_to_keyframe > 0 and every.stats.frames_skipped_to_keyframe == 0  # type: ignore[attr-defined]
    assert auto.stats.frames_decoded + auto.stats.frames_skipped_to_keyframe == every.stats.frames_decoded == 60  # type: ignore[attr-defined]
    assert [f.pts_s for f in auto_frames] == pytest.approx([f.pts_s for f in every_frames])
    assert all(np.array_equal(a.image, b.image) for a, b in zip(auto_frames, every_frames, strict=True))


def test_analysis_width_scales_while_converting(clips: dict[str, Path]) -> None:
    _, full = _read(clips["gop1"])
    _, small = _read(clips["gop1"], decode=DecodeOptions(width=320))
    _, wider = _read(clips["gop1"], decode=DecodeOptions(width=1280))  # never scaled up
    assert full[0].size == (640, 360) and small[0].size == (320, 180) and wider[0].size == (640, 360)
    assert small[0].image.dtype == np.uint8 and small[0].image.flags.c_contiguous
    # the same picture, only smaller (the clip is a smooth gradient: a plain resize must match closely)
    import cv2

    reference = cv2.resize(full[1].image, (320, 180), interpolation=cv2.INTER_AREA)
    assert np.abs(reference.astype(int) - small[1].image).mean() < 3.0
    assert [f.pts_s for f in small] == [f.pts_s for f in full]


def test_decoder_threads_and_loop_filter_give_the_same_frames(clips: dict[str, Path]) -> None:
    _, auto = _read(clips["gop1"], decode=DecodeOptions(threads=0))
    _, one = _read(clips["gop1"], decode=DecodeOptions(threads=1))
    _, two = _read(clips["gop1"], decode=DecodeOptions(threads=2))
    assert all(np.array_equal(a.image, b.image) and np.array_equal(a.image, c.image) for a, b, c in zip(auto, one, two, strict=True))
    _, no_deblock = _read(clips["gop1"], decode=DecodeOptions(skip_loop_filter=True))
    assert len(no_deblock) == len(auto)
    assert np.abs(no_deblock[1].image.astype(int) - auto[1].image).mean() < 2.0


def test_live_cameras_default_to_one_decoder_thread(clips: dict[str, Path]) -> None:
    cam = LiveCamera(str(clips["gop1"]), "cam-07", keyframes_only=True)
    assert cam.decode == DecodeOptions(keyframes="keyframes", threads=1)
    assert LiveCamera(str(clips["gop1"]), "cam-08", decode=DecodeOptions(threads=0)).decode.threads == 0
    reader = PyAVReader(str(clips["gop1"]), "cam-09", decode=DecodeOptions(threads=1))
    reader.open()
    try:
        assert reader.container.streams.video[0].codec_context.thread_count == 1
    finally:
        reader.close()


@pytest.mark.parametrize(("options", "message"), [
    ({"keyframes": "some"}, "keyframes must be one of auto, keyframes, all, got 'some'"),
    ({"width": 64}, "analysis width must be an integer from 160 to 7680, got 64"),
    ({"width": 640.5}, "analysis width must be an integer from 160 to 7680, got 640.5"),
    ({"threads": -1}, "decoder threads must be an integer from 0 to 64, got -1"),
])
def test_bad_decode_options_are_one_clear_line(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as err:
        DecodeOptions(**options)  # type: ignore[arg-type]
    assert str(err.value) == message


def test_unknown_source_option_is_still_refused(clips: dict[str, Path]) -> None:
    with pytest.raises(SourceError, match="unknown source option"):
        open_source(str(clips["gop1"]), "cam-01", analysis_width=320)


def _edge_yaml(tmp_path: Path, camera: str) -> Path:
    (tmp_path / "z.yaml").write_text("camera: cam-01\nzones: []\n")
    path = tmp_path / "edge.yaml"
    path.write_text(f"""\
service_url: http://127.0.0.1:1
device_id: box-1
model: {{path: m.onnx}}
cameras:
  - {{id: cam-01, url: clip.mp4, zones: z.yaml{camera}}}
""")
    return path


def test_edge_yaml_camera_decode_fields(tmp_path: Path) -> None:
    cfg = load_edge_config(_edge_yaml(tmp_path, ", keyframes: all, analysis_width: 960, decoder_threads: 2"))
    assert cfg.cameras[0].decode_options() == DecodeOptions(keyframes="all", width=960, threads=2)
    default = load_edge_config(_edge_yaml(tmp_path, ""))
    assert default.cameras[0].decode_options() == DecodeOptions()
    for field_name, info in type(cfg.cameras[0]).model_fields.items():
        assert info.title and info.description, field_name
    for bad, where in ((", keyframes: sometimes", "cameras.0.keyframes"), (", analysis_width: 100", "cameras.0.analysis_width"),
                       (", decoder_threads: -2", "cameras.0.decoder_threads")):
        with pytest.raises(ConfigError, match=re.escape(f"edge.yaml: {where}")) as err:
            load_edge_config(_edge_yaml(tmp_path, bad))
        assert "\n" not in str(err.value)
    assert yaml.safe_load(_edge_yaml(tmp_path, "").read_text())["cameras"][0]["id"] == "cam-01"


def test_forced_rechecks_of_cameras_started_together_are_spread() -> None:
    """A still scene on 10 cameras that start together: their forced re-checks (every max_skip_s) fall in
    different seconds, and no camera goes longer than max_skip_s without the model."""

    class CountingBackend:
        """Stand-in for a backend (the test is about gate timing; no model output matters)."""

        max_batch = 64
        class_names = ("bin",)
        backend = "counting"

        def __init__(self) -> None:
            self.calls: list[int] = []

        def input_size(self, images):  # type: ignore[no-untyped-def]
            return (96, 160)

        def infer(self, images):  # type: ignore[no-untyped-def]
            from detector.detections import Detections

            self.calls.append(len(images))
            return [Detections.empty(self.class_names) for _ in images]

    backend = CountingBackend()
    batcher = Batcher(backend, max_batch=64, gate=MotionGateConfig(mode="motion", max_skip_s=10.0))  # type: ignore[arg-type]
    still = np.full((90, 160, 3), 100, np.uint8)
    last_run: dict[str, float] = {}
    gaps: list[float] = []
    for t in range(41):
        frames = [Frame(f"cam-{i}", still, float(t), T0) for i in range(10)]
        for result in batcher.infer(frames):
            if result.inferred:
                cam = result.frame.camera_id
                if cam in last_run:
                    gaps.append(t - last_run[cam])
                last_run[cam] = t
    assert backend.calls[0] == 10  # every camera's first frame
    assert max(backend.calls[1:]) <= 2  # then at most two re-checks in any one second (was: all 10 together)
    assert gaps and max(gaps) <= 10.0
    assert batcher.gates["cam-0"].phase == 0.0  # the first camera (and a lone file) keeps the old timing


def test_gate_phase_brings_only_the_first_recheck_forward() -> None:
    still = np.full((90, 160, 3), 100, np.uint8)
    gate = MotionGate(MotionGateConfig(mode="motion", max_skip_s=10.0), phase=0.3)
    runs = []
    for t in range(30):
        frame = Frame("cam-01", still, float(t), T0)
        if gate.should_infer(frame):
            gate.mark_inferred(frame)
            runs.append(t)
    assert runs == [0, 7, 17, 27]
    with pytest.raises(ValueError, match=r"gate phase must be in \[0, 1\)"):
        MotionGate(phase=1.0)
