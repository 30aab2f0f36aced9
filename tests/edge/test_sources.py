"""Sources: files (generated clips and real footage), image folders, analysis rate, keyframe-only decode,
and bad inputs that must give one clear SourceError line."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from detector.sources import Source, SourceError, open_source
from detector.sources.video import AnalysisSampler
from tests.helpers.rtsp_server import make_h264_clip


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    return {
        "gop1": make_h264_clip(d / "gop1.mp4", seconds=10, fps=10, gop_s=1.0),  # keyframe every second
        "gop5": make_h264_clip(d / "gop5.mp4", seconds=10, fps=10, gop_s=5.0),
    }


def _frames(url: str | Path, **kw: object) -> tuple[Source, list]:
    src = open_source(str(url), "cam-01", **kw)  # type: ignore[arg-type]
    frames = list(src.frames())
    src.close()
    return src, frames


def test_keyframe_only_path_for_1s_gop_at_1fps(clips: dict[str, Path]) -> None:
    src, frames = _frames(clips["gop1"], analysis_fps=1.0)
    assert src.stats.keyframes_only and src.stats.gop_s == pytest.approx(1.0, abs=0.01)
    assert [round(f.pts_s, 2) for f in frames] == [float(i) for i in range(10)]
    assert src.stats.frames_decoded == 10  # only the keyframes went through the decoder
    assert frames[0].image.shape == (240, 320, 3) and frames[0].image.dtype == np.uint8
    assert all(f.camera_id == "cam-01" for f in frames) and [f.index for f in frames] == list(range(10))
    assert (frames[3].wall_time - frames[0].wall_time).total_seconds() == pytest.approx(3.0)


def test_decode_all_and_drop_when_gop_is_longer_than_the_interval(clips: dict[str, Path]) -> None:
    src, frames = _frames(clips["gop5"], analysis_fps=1.0)
    assert not src.stats.keyframes_only and src.stats.gop_s == pytest.approx(5.0, abs=0.01)
    assert src.stats.frames_decoded == 100
    assert [round(f.pts_s, 2) for f in frames] == [float(i) for i in range(10)]


@pytest.mark.parametrize("fps,expected", [(2.0, 20), (0.5, 5), (0.25, 3)])
def test_analysis_fps_is_honoured(clips: dict[str, Path], fps: float, expected: int) -> None:
    src, frames = _frames(clips["gop1"], analysis_fps=fps)
    assert len(frames) == expected
    steps = np.diff([f.pts_s for f in frames])
    assert np.allclose(steps, 1.0 / fps, atol=0.051)
    # 2 fps needs frames between the 1 s keyframes: decode all; 0.5 fps: keyframes suffice
    assert src.stats.keyframes_only == (fps <= 1.0)


def test_keyframes_only_can_be_forced_off(clips: dict[str, Path]) -> None:
    src, frames = _frames(clips["gop1"], analysis_fps=1.0, keyframes_only=False)
    assert not src.stats.keyframes_only and src.stats.frames_decoded == 100 and len(frames) == 10


def test_sampler_keeps_the_frame_nearest_each_analysis_time() -> None:
    sampler = AnalysisSampler(1.0)
    picked = [t for ts in [0.0, 0.3, 0.95, 1.3, 1.8, 2.1, 2.4, 5.2, 5.4] for t, _ in sampler.push(ts, None)]
    assert picked == [0.0, 0.95, 2.1, 5.2]  # gap after 2.4: the next frame is taken, no burst of catch-up


def test_image_folder(tmp_path: Path) -> None:
    for i in range(6):
        img = np.full((48, 64, 3), i * 40, np.uint8)
        cv2.imwrite(str(tmp_path / f"img_{i:03d}.png"), img)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "img_999.jpg").write_bytes(b"broken")  # unreadable: skipped and named in stats
    src, frames = _frames(tmp_path, analysis_fps=1.0, image_fps=2.0)
    assert [f.pts_s for f in frames] == [0.0, 1.0, 2.0]
    assert [int(f.image[0, 0, 0]) for f in frames] == [0, 80, 160]
    src, frames = _frames(tmp_path, analysis_fps=1.0)  # default: one image per analysis step
    assert len(frames) == 6 and "img_999.jpg" in (src.stats.last_error or "")


def _one_line_error(url: Path | str) -> str:
    with pytest.raises(SourceError) as info:
        src = open_source(str(url), "cam-01")
        list(src.frames())
    message = str(info.value)
    assert "\n" not in message and message.startswith("cam-01: ")
    return message


def test_bad_inputs_give_one_clear_line(tmp_path: Path, clips: dict[str, Path]) -> None:
    good = clips["gop1"].read_bytes()
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_text("this is a text file, not a video\n")
    (tmp_path / "random.mp4").write_bytes(random.Random(7).randbytes(20000))
    (tmp_path / "truncated.mp4").write_bytes(good[: len(good) // 2])  # index (moov) at the end: gone
    (tmp_path / "noimages").mkdir()
    with av.open(str(tmp_path / "audio.mp4"), "w") as out:  # a valid file without any video
        stream = out.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 8000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    assert _one_line_error(tmp_path / "missing.mp4").endswith("missing.mp4: no such file")
    assert _one_line_error(tmp_path / "empty.mp4").endswith("empty.mp4: empty file (0 bytes)")
    assert "text.mp4: not a readable video" in _one_line_error(tmp_path / "text.mp4")
    assert "random.mp4: not a readable video" in _one_line_error(tmp_path / "random.mp4")
    assert "truncated.mp4: not a readable video" in _one_line_error(tmp_path / "truncated.mp4")
    assert _one_line_error(tmp_path / "audio.mp4").endswith("audio.mp4: no video stream")
    assert "noimages: no images" in _one_line_error(tmp_path / "noimages")
    with pytest.raises(SourceError, match="analysis_fps must be > 0"):
        open_source(str(clips["gop1"]), "cam-01", analysis_fps=0)


def test_truncated_file_with_index_first_stops_at_the_real_end(tmp_path: Path, clips: dict[str, Path]) -> None:
    """A cut 'faststart' MP4 (index before the data) promises more than it holds: frames up to the cut."""
    fast = tmp_path / "fast.mp4"
    with av.open(str(clips["gop5"])) as src, av.open(str(fast), "w", options={"movflags": "faststart"}) as out:
        out_stream = out.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = out_stream
                out.mux(packet)
    data = fast.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 6 // 10])
    src, frames = _frames(cut, analysis_fps=1.0)
    assert 3 <= len(frames) < 10


# -- real footage from ../shared ---------------------------------------------------------------------
@pytest.mark.shared
@pytest.mark.parametrize(
    "name,size,count",
    [
        ("intel_parking_lot_768x432.mp4", (768, 432), 31),
        ("pets2009_campus_480x360.avi", (480, 360), 80),
        ("intel_person_bicycle_car_480x270.gif", (480, 270), 4),
        ("overhead_plaza_720p.avi", (1280, 720), 14),  # header claims 682 frames, 341 are there
    ],
)
def test_real_footage(shared_dir: Path, name: str, size: tuple[int, int], count: int) -> None:
    _, frames = _frames(shared_dir / "videos" / name, analysis_fps=1.0)
    assert len(frames) == count
    assert all(f.size == size for f in frames)
    pts = [f.pts_s for f in frames]
    assert pts[0] == 0.0 and np.allclose(np.diff(pts), 1.0, atol=0.1)  # AVI B-frame timestamps repaired


@pytest.mark.shared
def test_keyframes_only_on_real_footage_at_a_low_rate(shared_dir: Path) -> None:
    """Parking lot: a keyframe every 4.8 s; at one frame per 5 s the keyframes alone are enough."""
    src, frames = _frames(shared_dir / "videos" / "intel_parking_lot_768x432.mp4", analysis_fps=0.2)
    assert src.stats.keyframes_only and src.stats.frames_decoded == 7  # every keyframe, nothing else
    assert [f.pts_s for f in frames] == pytest.approx([0.0, 4.8, 9.6, 14.4, 19.2, 24.0])  # 28.8: last, partial step


@pytest.mark.shared
def test_gif_copy_with_odd_name(shared_dir: Path, tmp_path: Path) -> None:
    """A GIF is found by its content, not its suffix."""
    copy = tmp_path / "camera feed.dat"
    shutil.copy(shared_dir / "videos" / "intel_person_bicycle_car_480x270.gif", copy)
    _, frames = _frames(copy, analysis_fps=2.0)
    assert len(frames) == 7
