"""``frontage analyze`` and ``frontage edge`` (registered by `detector.cli`).

Bad input never shows a traceback: every expected failure (missing/corrupt video, unreachable stream,
malformed zones or config, missing model) is one ``error: ...`` line on stderr and exit code 2. ``edge
--exit-when-done``: 3 when the outbox could not be delivered in time, 4 when the readable cameras ran and were
delivered but some file camera could not be read (each one named in the log).
Set ``FRONTAGE_DEBUG=1`` to see the traceback of an unexpected error.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

T = TypeVar("T")


def _expected_errors() -> tuple[type[BaseException], ...]:
    from detector.classmap import ClassMapError
    from detector.pipeline.evaluate import TruthFileError
    from detector.uplink.outbox import OutboxError
    from detector.zones.schema import ZonesFileError

    errors: list[type[BaseException]] = [ClassMapError, ZonesFileError, TruthFileError, OutboxError, OSError]
    try:
        from detector.inference import InferenceError

        errors.append(InferenceError)
    except ImportError:
        pass
    try:
        from detector.sources import SourceError

        errors.append(SourceError)
    except ImportError:
        pass
    from detector.config import ConfigError

    errors.append(ConfigError)
    return tuple(errors)


def _run_clean(fn: Callable[[], T]) -> T:
    """Run ``fn``; known failures -> one line on stderr, exit 2; anything else -> one line, exit 1."""
    try:
        return fn()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise typer.Exit(130) from None
    except typer.Exit:
        raise
    except Exception as exc:
        if os.environ.get("FRONTAGE_DEBUG"):
            raise
        try:
            known = isinstance(exc, _expected_errors())
        except Exception:  # an import error while classifying: report the original anyway
            known = False
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if not known:
            message = f"unexpected {type(exc).__name__}: {message}"
        print(f"error: {message}", file=sys.stderr)
        raise typer.Exit(2 if known else 1) from None


def analyze(
    video: Annotated[str, typer.Argument(help="Video file (or stream URL) to analyse")],
    zones: Annotated[Path, typer.Option("--zones", "-z", help="Zones file of the camera (zones/<camera>.yaml)")],
    model: Annotated[Path | None, typer.Option(help="Model file (default models/frontage-n.onnx)")] = None,
    classes: Annotated[Path | None, typer.Option(help="Class map (default: <model stem>.classes.yaml beside the model)")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the episodes as JSON here")] = None,
    analysis_fps: Annotated[float, typer.Option(help="Frames analysed per second of video")] = 1.0,
    evidence_dir: Annotated[Path | None, typer.Option(help="Write evidence JPEGs (and clips) here")] = None,
    clip_s: Annotated[float, typer.Option(help="Seconds of evidence clip before a start (0: no clip)")] = 0.0,
    camera: Annotated[str | None, typer.Option(help="Camera id (default: the zones file's camera)")] = None,
    conf: Annotated[float | None, typer.Option(help="Minimum detection score (default: the model config's)")] = None,
    imgsz: Annotated[int | None, typer.Option(help="Network input long side in pixels (default: the model's own)")] = None,
    truth: Annotated[Path | None, typer.Option(help="Ground truth *.truth.json: print episode precision/recall")] = None,
    no_gate: Annotated[bool, typer.Option("--no-gate", help="Experiment: no motion gating, every analysis frame "
                                          "through the model (the edge gates)")] = False,
    backend: Annotated[str | None, typer.Option(help="Inference engine (onnxruntime, openvino, ultralytics); "
                                                "default auto: the fastest that agrees, as on the edge")] = None,
) -> None:
    """Analyse a video file offline through the edge's pipeline (gating, tracking, rules); list its episodes."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    def run() -> None:
        from detector.pipeline.evaluate import load_episodes, score
        from detector.pipeline.offline import analyze_video, print_episodes, video_duration_s

        if analysis_fps <= 0:
            raise ValueError("--analysis-fps must be > 0")
        truth_episodes = load_episodes(truth) if truth else None  # fail early on a bad truth file
        from detector.sources import SourceError, is_stream_url

        if not is_stream_url(video) and not Path(video).exists():
            raise SourceError(f"cannot open {video}: no such file")
        on_frame = None
        progress = None
        if sys.stderr.isatty():
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            duration = None if is_stream_url(video) else video_duration_s(Path(video))
            progress = Progress(TextColumn("analysing"), BarColumn(), TextColumn("{task.completed:.0f}/{task.total:.0f} s"),
                                TimeRemainingColumn(), transient=True)
            task = progress.add_task("analyse", total=duration)
            progress.start()

            def on_frame(frame) -> None:  # type: ignore[no-untyped-def]
                progress.update(task, completed=frame.pts_s)
        try:
            result = analyze_video(video, zones, model=model, classes=classes, analysis_fps=analysis_fps,
                                   evidence_dir=evidence_dir, camera=camera, conf=conf, imgsz=imgsz,
                                   clip_s=clip_s, on_frame=on_frame, gate=not no_gate,
                                   backend=backend)
        finally:
            if progress is not None:
                progress.stop()
        if truth_episodes is not None:
            from detector.zones.schema import load_zones

            result["score"] = score(result["episodes"], truth_episodes, load_zones(zones)).as_json()
        print_episodes(result)
        if "score" in result:
            s = result["score"]
            print(f"precision {s['precision']:.3f}  recall {s['recall']:.3f}  "
                  f"({s['matched']} matched, {s['predicted']} predicted, {s['truth']} true)")
        if json_out:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(result, indent=2), encoding="utf-8")

    _run_clean(run)


def edge(
    config: Annotated[Path, typer.Option("--config", "-c", help="edge.yaml")],
    exit_when_done: Annotated[bool, typer.Option(
        "--exit-when-done", help="File cameras only: stop at their ends, deliver the outbox, exit 0")] = False,
    drain_timeout_s: Annotated[float, typer.Option(help="With --exit-when-done: how long to wait for delivery")] = 60.0,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING, ERROR")] = "INFO",
    benchmark: Annotated[bool, typer.Option(
        "--benchmark", help="Time the inference engines on the config's model, print the table, keep the choice, exit")] = False,
) -> None:
    """Run the live edge: all cameras through one model, episodes to the case service."""
    logging.basicConfig(level=getattr(logging, log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    def run() -> int:
        from detector.config import load_edge_config
        from detector.pipeline.live import EdgeRuntime

        cfg = load_edge_config(config)
        if benchmark:
            from detector.inference.autoselect import print_benchmark

            print_benchmark(cfg.model)
            return 0
        runtime = EdgeRuntime(cfg, exit_when_done=exit_when_done, drain_timeout_s=drain_timeout_s)
        return runtime.run()

    code = _run_clean(run)
    if code:
        raise typer.Exit(code)
