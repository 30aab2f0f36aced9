"""``frontage analyze``: one video file through the edge's pipeline (`detector.pipeline.build`: the same motion
gating, tracking, zones and rules as ``frontage edge``); episodes out.

Default model ``models/frontage-n.onnx``; the classes file defaults to ``<model stem>.classes.yaml``
beside the model. The result JSON::

    {"video": ..., "model": ..., "engine": ..., "camera": ..., "analysis_fps": ..., "imgsz": ..., "frames": ...,
     "gating": true, "frames_inferred": ..., "frames_gated": ..., "events": ..., "track_ids": ...,
     "episodes": [{"camera", "zone", "merchant", "category", "start_s", "end_s", "opened_class",
                   "opened_score", "opened_box", "evidence"}]}

``engine``: the inference engine that ran (``backend: auto`` picks per machine); ``opened_*``: the class, score
and normalised xyxy box of the detection that opened the episode.

``frames_gated``: frames the motion gate let through without the model (their detections are the camera's
last); ``track_ids``: distinct tracker ids in the detections the rules got.

``end_s`` is null for an episode still open when the video ends.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from detector.config import CameraConfig, ConfigError, PipelineConfig, describe_validation_error
from detector.frames import Frame
from detector.gating import MotionGateConfig
from detector.inference import ModelConfig
from detector.pipeline.analyzer import Emitted
from detector.pipeline.build import CameraFeed, build_pipeline
from detector.sources import SourceError
from detector.tracking import TrackingConfig
from detector.zones.schema import load_zones

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = ROOT / "models" / "frontage-n.onnx"


def video_duration_s(path: Path) -> float | None:
    """Container duration for the progress bar (None when unknown)."""
    try:
        import av

        with av.open(str(path)) as c:
            if c.duration:
                return c.duration / 1_000_000
            stream = c.streams.video[0]
            if stream.duration and stream.time_base:
                return float(stream.duration * stream.time_base)
    except Exception:  # a broken header: the source will report the real error
        return None
    return None


class ReportSink:
    """The offline sink: events are only counted; the analyser keeps the episode list for the report."""

    def __init__(self) -> None:
        self.events = 0

    def emit(self, feed: CameraFeed, emitted: Emitted) -> None:
        self.events += 1


def analysis_config(video: str | Path, zones_path: Path, *, model: Path | None = None, classes: Path | None = None,
                    analysis_fps: float = 1.0, evidence_dir: Path | None = None, camera: str | None = None,
                    conf: float | None = None, imgsz: int | None = None, clip_s: float = 0.0,
                    gating: MotionGateConfig | None = None, tracking: TrackingConfig | None = None,
                    backend: str | None = None) -> PipelineConfig:
    """The edge's pipeline config for one file camera (what ``frontage analyze`` runs): the model, the edge's
    default gating and tracking, and the camera at ``analysis_fps`` read frame by frame, as fast as possible."""
    model_path = Path(model) if model else DEFAULT_MODEL
    overrides = {k: v for k, v in (("conf", conf), ("imgsz", imgsz), ("backend", backend)) if v is not None}
    camera_id = camera or load_zones(zones_path).camera
    try:
        return PipelineConfig(
            model=ModelConfig(path=str(model_path), **overrides), classes=classes,
            gating=gating or MotionGateConfig(), tracking=tracking or TrackingConfig(),
            # realtime False: a stream URL too is read without the live thread, and a failure is an error
            cameras=[CameraConfig(id=camera_id, url=str(video), zones=zones_path, analysis_fps=analysis_fps,
                                  realtime=False)],
            evidence_dir=evidence_dir, clip_s=clip_s)
    except ValidationError as err:
        raise ConfigError(f"analysis settings: {describe_validation_error(err)}") from None


def analyze_video(video: str | Path, zones_path: Path, *, model: Path | None = None, classes: Path | None = None,
                  analysis_fps: float = 1.0, evidence_dir: Path | None = None, camera: str | None = None,
                  conf: float | None = None, imgsz: int | None = None, clip_s: float = 0.0,
                  on_frame: Callable[[Frame], None] | None = None, gate: bool = True,
                  gating: MotionGateConfig | None = None, tracking: TrackingConfig | None = None,
                  backend: str | None = None) -> dict:
    """One video through `build_pipeline` (the edge's pipeline: gating, tracking, rules) with a report sink.

    ``gating``/``tracking``: other settings than the edge's defaults (what an edge.yaml would say);
    ``gate=False`` turns motion gating off (an experiment: every frame through the model); ``backend``: an
    engine name (``onnxruntime``, ``openvino``, ...) instead of the edge's default ``auto``."""
    gating = gating or MotionGateConfig()
    if not gate:
        gating = gating.model_copy(update={"enabled": False})
    cfg = analysis_config(video, zones_path, model=model, classes=classes, analysis_fps=analysis_fps,
                          evidence_dir=evidence_dir, camera=camera, conf=conf, imgsz=imgsz, clip_s=clip_s,
                          gating=gating, tracking=tracking, backend=backend)
    sink = ReportSink()
    pipeline = build_pipeline(cfg, sink, keep_episodes=True, file_attempts=1)
    if on_frame is not None:
        pipeline.on_frame = lambda feed, frame, detections: on_frame(frame)
    try:
        pipeline.run()
    finally:
        pipeline.close()
    (feed,) = pipeline.feeds
    if feed.failed:  # one file, tried once: a bad file is the user's error, not a camera to wait for
        raise SourceError(feed.stats.last_error or f"cannot read {video}")
    analyzer = feed.analyzer
    episodes = sorted(analyzer.episodes.values(), key=lambda e: (e.start_s, e.zone, e.category))
    return {
        "video": str(video), "model": cfg.model.path, "model_name": pipeline.backend.name,
        "engine": pipeline.backend.backend, "camera": feed.camera_id,
        "analysis_fps": analysis_fps, "imgsz": pipeline.backend.imgsz, "frames": analyzer.frames,
        "gating": cfg.gating.enabled, **{k: v for k, v in feed.counts.as_json().items() if k != "frames"},
        "episodes": [e.as_json() for e in episodes],
    }


def print_episodes(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(result['episodes'])} episode(s) in {result['video']}")
    for col in ("camera", "zone", "merchant", "category", "start_s", "end_s", "evidence"):
        table.add_column(col, justify="right" if col.endswith("_s") else "left")
    for e in result["episodes"]:
        table.add_row(e["camera"], e["zone"], e["merchant"] or "-", e["category"], f"{e['start_s']:.1f}",
                      "open" if e["end_s"] is None else f"{e['end_s']:.1f}", str(len(e["evidence"])))
    Console(file=sys.stdout, width=140).print(table)
