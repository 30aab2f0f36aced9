"""Scripted clips: zones validate, truth follows the script, a short clip encodes and decodes (real PyAV, no mocks)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import av
import numpy as np
import pytest
import typer
from shapely.geometry import Point, Polygon
from typer.testing import CliRunner

from detector.categories import Category
from detector.synth.classes import category_of
from detector.synth.cli import synth
from detector.synth.clip import EDGE_MARGIN_PX_720P, FrameRenderer, build_plan, write_clip
from detector.synth.scenarios import SCENARIOS, Placement, Scenario
from detector.zones.schema import load_zones, parse_zones

SMALL = (320, 180)


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("clip")
    plan = build_plan(SCENARIOS["market-street-day"], duration_s=10, fps=5, size=SMALL, name="cam-test")
    summary = write_clip(plan, out)
    return out, summary


def test_short_clip_encodes_and_decodes(short_clip: tuple[Path, dict]) -> None:
    out, summary = short_clip
    assert summary["codec"] in ("libx264", "libopenh264")
    with av.open(str(out / "cam-test.mp4")) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(stream)]
    assert len(frames) == 50
    assert frames[0].shape == (SMALL[1], SMALL[0], 3)
    assert float(frames[-1].std()) > 10  # a picture, not a blank


def test_short_clip_zones_and_truth_files(short_clip: tuple[Path, dict]) -> None:
    out, _ = short_clip
    zones = load_zones(out / "cam-test.zones.yaml")
    truth = json.loads((out / "cam-test.truth.json").read_text())
    assert zones.camera == "cam-test"
    assert set(truth) == {"video", "model", "episodes", "fps", "duration_s", "seed"}
    assert truth["video"] == "cam-test.mp4" and truth["model"] == "ground-truth"
    assert truth["fps"] == 5 and truth["duration_s"] == 10 and truth["seed"] == 101
    assert truth["episodes"] == []  # nothing stays long enough in 10 s
    kinds = [z.kind.value for z in zones.zones]
    assert kinds.count("sidewalk") == 1 and kinds.count("storefront") >= 2
    for z in zones.zones:
        assert 20 <= zones.dwell_s(z) <= 30 and 10 <= zones.clear_s(z) <= 15
        assert (z.merchant is None) == (z.kind.value == "sidewalk")
    assert any(z.fixtures for z in zones.zones)


def test_frames_are_deterministic() -> None:
    plan = build_plan(SCENARIOS["rainy-lane"], duration_s=60, fps=5, size=SMALL)
    a, b = FrameRenderer(plan), FrameRenderer(build_plan(SCENARIOS["rainy-lane"], duration_s=60, fps=5, size=SMALL))
    assert np.array_equal(a.frame(150), b.frame(150))
    other = build_plan(SCENARIOS["rainy-lane"], seed=5, duration_s=60, fps=5, size=SMALL)
    assert other.zones_document() != plan.zones_document()


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_truth_follows_the_script(name: str) -> None:
    scenario = SCENARIOS[name]
    plan = build_plan(scenario)
    zones = parse_zones(plan.zones_document(), name)
    W, H = plan.size
    by_zone = {z.id: z for z in zones.zones}
    polys = {z.id: Polygon([(x * W, y * H) for x, y in z.polygon]) for z in zones.zones}
    seg_zone = {s.name: s.zone_id for s in plan.segments}
    # every scripted object stands clearly inside its own segment's zone and on no fixture
    margin = EDGE_MARGIN_PX_720P * W / 1280 - 1
    for timed in plan.objects:
        if not timed.placed.key.startswith("placement-"):
            continue
        pi = int(timed.placed.key.split("-")[1])
        placement = scenario.placements[pi]
        u, v = plan.camera.project(np.array([[timed.placed.x, 0.0, timed.placed.z]]))[0]
        zone_id = seg_zone[placement.segment]
        inside = [zid for zid, poly in polys.items() if poly.contains(Point(u, v))]
        assert inside == [zone_id]
        assert polys[zone_id].exterior.distance(Point(u, v)) >= margin
        for fixture in by_zone[zone_id].fixtures:
            assert not Polygon([(x * W, y * H) for x, y in fixture]).contains(Point(u, v))
    # expected episodes, recomputed plainly from the script
    expected: list[tuple[str, str, float, float | None]] = []
    for p in scenario.placements:
        zone = by_zone[seg_zone[p.segment]]
        category = category_of(p.cls, zone.merchant is not None)
        end = p.until_s if p.until_s is not None and p.until_s < plan.duration_s else None
        if category in {c.value for c in zone.forbid} and ((end or plan.duration_s) - p.at_s) >= zones.dwell_s(zone):
            expected.append((zone.id, category, p.at_s, end))
    got = [(e["zone"], e["category"], e["start_s"], e["end_s"]) for e in plan.episodes]
    merged = {(z, c, s) for z, c, s, _ in expected}
    assert {(z, c, s) for z, c, s, _ in got} <= merged
    for z, c, s, e in got:
        assert e is None or e - s >= 60  # long enough for a detector at 1 analysis/s
        assert Category(c)
        assert by_zone[z].id == z
        assert (plan.truth_document()["episodes"][0]["camera"]) == plan.name
    if name == "busy-pavement-overcast":
        assert got == [] and len([o for o in plan.objects if o.walker]) > 40
    else:
        assert 3 <= len(got) <= 6
        assert len({c for _, c, _, _ in got}) >= 3


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scripted_objects_are_in_view(name: str) -> None:
    """Every scripted object is mostly in view while it stands there: the truth never holds a violation that
    stands behind a lamp post (rainy-lane's stacked boxes did, 81 % hidden, and market-street-day's parked
    bike 33 %, before the generator checked).

    Measured on the renderer's own per-pixel object ids, half-way through each placement; people walking
    past may cover it then, so the bar (60 % in view) is looser than the generator's 75 % for standing things.
    """
    plan = build_plan(SCENARIOS[name], size=(960, 540))  # as committed in sample_videos/
    renderer = FrameRenderer(plan)
    W, H = plan.size
    for timed in plan.objects:
        if not timed.placed.key.startswith("placement-"):
            continue
        t1 = plan.duration_s if timed.t1 is None else timed.t1
        index = int((timed.t0 + t1) / 2 * plan.fps)
        ids = np.full((H, W), -1, np.int32)
        _, drawn = renderer._render(index, ids)
        mine = next(d for d in drawn if d.placed.key == timed.placed.key)
        # a row of stacks seen end-on hides itself: pixels of the same placement's other objects count as seen
        group = [d.index for d in drawn if d.placed.key.rsplit("-", 1)[0] == timed.placed.key.rsplit("-", 1)[0]]
        x0, y0, x1, y1 = (int(v) for v in mine.box_full)
        seen = int(np.isin(ids[max(0, y0):y1, max(0, x0):x1], group).sum())
        assert seen >= 0.6 * mine.full_px, f"{name}: {timed.placed.key} ({timed.placed.label}) only {seen / mine.full_px:.0%} in view"


def test_short_stay_and_same_category_overlap() -> None:
    base = SCENARIOS["market-street-day"]
    scenario = Scenario(**{**base.model_dump(), "name": "overlap", "placements": [
        Placement(cls="trash_bag", segment="shop2", at_s=10, until_s=80, along=0.3),
        Placement(cls="litter_pile", segment="shop2", at_s=50, until_s=120, along=0.7),  # same category, overlapping
        Placement(cls="bicycle", segment="shop1", at_s=30, until_s=40),  # 10 s: below dwell
        Placement(cls="stall_cart", segment="sidewalk", at_s=20, until_s=100),
        Placement(cls="stall_cart", segment="shop1", at_s=60, until_s=150, along=0.6),
    ]})
    plan = build_plan(scenario, duration_s=130)
    got = sorted((e["zone"].split("-")[1], e["category"], e["start_s"], e["end_s"]) for e in plan.episodes)
    assert got == sorted([
        ("m", "exposed_garbage", 10.0, 120.0),
        ("sidewalk", "street_vending", 20.0, 100.0),
        ("m", "out_of_store_trading", 60.0, None),
    ])


def test_cli_bad_input_is_one_line(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(synth)
    runner = CliRunner()
    for args, needle in ((["--scenario", "nope"], "unknown scenario"), (["--size", "12"], "WIDTHxHEIGHT"),
                         (["--fps", "0"], "--fps"), (["--duration", "-3"], "--duration"), (["--crf", "60"], "--crf")):
        result = runner.invoke(app, [*args, "--out", str(tmp_path)])
        assert result.exit_code == 2, result.output
        assert needle in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1
    result = runner.invoke(app, ["--list"])
    assert result.exit_code == 0 and "market-street-day" in result.output


def test_cli_preview(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(synth)
    result = CliRunner().invoke(app, ["--scenario", "corner-shops-dusk", "--size", "320x180", "--preview", "30",
                                      "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "corner-shops-dusk.preview.png").stat().st_size > 1000


SAMPLES = Path(__file__).resolve().parents[2] / "sample_videos"


@pytest.mark.skipif(not any(SAMPLES.glob("*.mp4")), reason="sample_videos/ holds no clips yet")
def test_committed_sample_videos() -> None:
    clips = sorted(SAMPLES.glob("*.mp4"))
    assert len(clips) >= 3
    violation_free = 0
    for clip in clips:
        name = clip.stem
        assert clip.stat().st_size <= 10 * 1024 * 1024
        zones = load_zones(SAMPLES / f"{name}.zones.yaml")
        truth = json.loads((SAMPLES / f"{name}.truth.json").read_text())
        assert zones.camera == name and truth["video"] == clip.name
        assert 120 <= truth["duration_s"] <= 240
        zone_ids = {z.id for z in zones.zones}
        for e in truth["episodes"]:
            assert e["camera"] == name and e["zone"] in zone_ids and e["evidence"] is None
            assert e["end_s"] is None or e["end_s"] - e["start_s"] >= 60
        violation_free += not truth["episodes"]
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            assert math.isclose(float(stream.average_rate), truth["fps"], rel_tol=0.01)
            first = next(container.decode(stream))
            assert first.width >= 960
    assert violation_free >= 1


@pytest.mark.skipif(not any(SAMPLES.glob("*.mp4")), reason="sample_videos/ holds no clips yet")
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_sample_video_matches_its_command(name: str) -> None:
    """The committed clip is what `frontage synth --scenario NAME` renders now (zones, truth and pictures)."""
    clip = SAMPLES / f"{name}.mp4"
    if not clip.exists():
        pytest.skip(f"{clip.name} is not committed")
    truth = json.loads((SAMPLES / f"{name}.truth.json").read_text())
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        size = (stream.codec_context.width, stream.codec_context.height)
        plan = build_plan(SCENARIOS[name], seed=truth["seed"], fps=truth["fps"], size=size)
        assert plan.truth_document() == truth
        assert plan.zones_document() == _yaml(SAMPLES / f"{name}.zones.yaml")
        index = int(60 * truth["fps"])
        container.seek(int(59 / stream.time_base), stream=stream)  # the keyframe before 60 s
        decoded = None
        for frame in container.decode(stream):
            if frame.pts is not None and round(float(frame.pts * stream.time_base) * truth["fps"]) == index:
                decoded = frame.to_ndarray(format="bgr24").astype(np.float64)
                break
    assert decoded is not None
    rendered = FrameRenderer(plan).frame(index).astype(np.float64)
    # worst 16x16 block: H.264 at CRF 29 leaves ~10 grey levels there; a changed or missing object, 40+
    diff = np.abs(decoded - rendered).mean(axis=2)
    h, w = (diff.shape[0] // 16) * 16, (diff.shape[1] // 16) * 16
    worst = float(diff[:h, :w].reshape(h // 16, 16, w // 16, 16).mean(axis=(1, 3)).max())
    assert worst < 20, f"{name}: committed clip differs from a fresh render (worst block {worst:.0f}): regenerate it"


def _yaml(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text())


def test_labelled_clip_frames_and_oracle_boxes() -> None:
    plan = build_plan(SCENARIOS["market-street-day"], size=SMALL)
    renderer = FrameRenderer(plan)
    index = int(70 * plan.fps)  # goods, bags, cart and bike all out
    lf = renderer.labelled_frame(index)
    assert np.array_equal(lf.image, renderer.frame(index))
    assert {"goods_display", "trash_bag", "stall_cart", "bicycle"} <= set(lf.class_names)
    boxes, names = plan.oracle_boxes(70.0)
    assert sorted(set(names)) == sorted(set(names) | set(lf.class_names))
    # every visible box lies within the whole-sprite box of an object of the same class
    for box, name in zip(lf.xyxy, lf.class_names, strict=True):
        same = boxes[[n == name for n in names]]
        assert ((same[:, 0] - 1 <= box[0]) & (same[:, 1] - 1 <= box[1]) & (same[:, 2] + 1 >= box[2])
                & (same[:, 3] + 1 >= box[3])).any()
