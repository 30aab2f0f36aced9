"""``frontage analyze``: one video file through the model, zones and rules; episodes out.

Default model ``models/frontage-n.onnx``; the classes file defaults to ``<model stem>.classes.yaml``
beside the model. The result JSON::

    {"video": ..., "model": ..., "camera": ..., "analysis_fps": ..., "imgsz": ..., "frames": ...,
     "episodes": [{"camera", "zone", "merchant", "category", "start_s", "end_s", "evidence"}]}

``end_s`` is null for an episode still open when the video ends.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from detector.classmap import ClassMap, classes_file_for
from detector.events import ModelInfo
from detector.evidence import EvidenceWriter
from detector.frames import Frame
from detector.pipeline.analyzer import CameraAnalyzer
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


def analyze_video(video: str | Path, zones_path: Path, *, model: Path | None = None, classes: Path | None = None,
                  analysis_fps: float = 1.0, evidence_dir: Path | None = None, camera: str | None = None,
                  conf: float | None = None, imgsz: int | None = None, clip_s: float = 0.0,
                  on_frame: Callable[[Frame], None] | None = None) -> dict:
    from detector.inference import ModelConfig, load_backend
    from detector.sources import open_source

    zones = load_zones(zones_path)
    model_path = Path(model) if model else DEFAULT_MODEL
    overrides = {k: v for k, v in (("conf", conf), ("imgsz", imgsz)) if v is not None}
    cfg = ModelConfig(path=str(model_path), max_batch=4, **overrides)
    backend = load_backend(cfg)
    classmap = ClassMap.load(classes or classes_file_for(model_path))
    classmap.bind(tuple(backend.class_names))  # every model class must be mapped: fail before decoding
    camera_id = camera or zones.camera
    analyzer = CameraAnalyzer(
        camera_id, zones, classmap,
        ModelInfo(name=backend.name, version=str(backend.version), sha256=backend.sha256),
        evidence=EvidenceWriter(evidence_dir, clip=clip_s > 0) if evidence_dir else None, clip_s=clip_s)
    source = open_source(str(video), camera_id, analysis_fps=analysis_fps, realtime=False)
    batch: list[Frame] = []

    def flush() -> None:
        for frame, dets in zip(batch, backend.infer([f.image for f in batch]), strict=True):
            analyzer.process(frame, dets)
            if on_frame:
                on_frame(frame)
        batch.clear()

    try:
        for frame in source.frames():
            batch.append(frame)
            if len(batch) >= backend.max_batch:
                flush()
        flush()
    finally:
        source.close()
    episodes = sorted(analyzer.episodes.values(), key=lambda e: (e.start_s, e.zone, e.category))
    return {
        "video": str(video), "model": str(model_path), "model_name": backend.name, "camera": camera_id,
        "analysis_fps": analysis_fps, "imgsz": backend.imgsz, "frames": analyzer.frames,
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
