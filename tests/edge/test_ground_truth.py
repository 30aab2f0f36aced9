"""The shipped model + rules reproduce the sample clips' ground truth (episode precision and recall >= 0.9).

Runs ``frontage analyze`` logic (in process) with ``models/frontage-n.onnx`` on every
``sample_videos/*.mp4`` against its ``*.truth.json`` (`detector.pipeline.evaluate`: same zone and category,
start within the zone's dwell + 5 s, one to one). Skips, saying why, only while the model or the clips are
not in the repository yet. The per-clip analysis JSON is left in test-artifacts/ for a human to read.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from detector.pipeline.evaluate import load_episodes, score
from detector.zones.schema import load_zones

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "frontage-n.onnx"
CLIPS = sorted((ROOT / "sample_videos").glob("*.mp4"))

pytestmark = pytest.mark.slow


# Clips on which the shipped model misses the 0.9 bar, with its figures (empty since frontage-n 3.1 with
# cross-class duplicate suppression, and with 4.0: every clip 1.00/1.00, models/MODEL_CARD.md). An entry marks that clip
# xfail, non-strict: a better model turns it green without editing this file; the bar itself is never lowered.
MODEL_SHORT_OF_BAR: dict[str, str] = {}


def _clips() -> list:
    if not CLIPS:
        return [Path("no-sample-videos")]
    return [pytest.param(c, marks=pytest.mark.xfail(reason=MODEL_SHORT_OF_BAR[c.stem], strict=False))
            if c.stem in MODEL_SHORT_OF_BAR else c for c in CLIPS]


@pytest.mark.parametrize("clip", _clips(), ids=lambda p: p.stem)
def test_episode_precision_and_recall(clip: Path, artifacts_dir: Path) -> None:
    if not MODEL.exists():
        pytest.skip(f"{MODEL.relative_to(ROOT)} is not shipped yet (the model engineer adds it)")
    if not clip.exists():
        pytest.skip("sample_videos/*.mp4 are not in the repository yet")
    from detector.pipeline.offline import analyze_video

    truth_file = clip.with_suffix(".truth.json")
    zones_file = clip.with_suffix(".zones.yaml")
    assert truth_file.exists() and zones_file.exists(), f"{clip.name} lacks its .truth.json or .zones.yaml"
    # one frame every 2 s: the clips have a keyframe every 2 s, so only keyframes are decoded, and every
    # scripted episode lasts >= 60 s (test_rules_oracle.py shows the rules still reproduce all of them)
    result = analyze_video(clip, zones_file, model=MODEL, analysis_fps=0.5)
    s = score(result["episodes"], load_episodes(truth_file), load_zones(zones_file))
    result["score"] = s.as_json()
    (artifacts_dir / f"{clip.stem}.analysis.json").write_text(json.dumps(result, indent=2))
    assert s.precision >= 0.9 and s.recall >= 0.9, s.as_json()


@pytest.mark.parametrize("clip", _clips(), ids=lambda p: p.stem)
def test_episodes_unchanged_with_every_lever_on(clip: Path) -> None:
    """Issue 18: the sample clips' episodes with every speed lever of `bench.streams.LEVERS` on at once —
    keyframe-only decode, motion and static-change gating, zone-rectangle inference, the adaptive interval and
    the loop filter skipped (off by default) — the same bar as the defaults above."""
    if not MODEL.exists() or not clip.exists():
        pytest.skip("the shipped model or the sample clips are not in the repository")
    from bench.common import apply_overrides
    from bench.streams import all_on, available_levers
    from detector.config import PipelineConfig
    from detector.pipeline.build import build_pipeline
    from detector.pipeline.offline import ReportSink, analysis_config

    levers, missing = available_levers()
    assert not missing, f"levers whose switches this checkout lacks: {missing}"
    zones_file = clip.with_suffix(".zones.yaml")
    cfg = analysis_config(clip, zones_file, model=MODEL, analysis_fps=0.5)
    cfg = PipelineConfig.model_validate(apply_overrides(cfg.model_dump(), all_on(levers)))
    assert cfg.gating.mode == "static" and cfg.batch.zone_crop.enabled
    assert all(c.skip_loop_filter and c.adaptive_interval.enabled for c in cfg.cameras)
    pipeline = build_pipeline(cfg, ReportSink(), keep_episodes=True, file_attempts=1)
    try:
        pipeline.run()
    finally:
        pipeline.close()
    (feed,) = pipeline.feeds
    episodes = sorted(feed.analyzer.episodes.values(), key=lambda e: (e.start_s, e.zone, e.category))
    s = score([e.as_json() for e in episodes], load_episodes(clip.with_suffix(".truth.json")), load_zones(zones_file))
    assert s.precision >= 0.9 and s.recall >= 0.9, s.as_json()
