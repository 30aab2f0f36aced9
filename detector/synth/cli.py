"""`frontage synth`: render a scripted street clip with its zones file and ground truth.

    frontage synth --scenario market-street-day --out sample_videos
    python -m detector synth --list
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Annotated

import typer


def _size(value: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d{2,5})\s*[xX]\s*(\d{2,5})\s*", value)
    if not m:
        raise typer.BadParameter(f"expected WIDTHxHEIGHT such as 960x540, got {value!r}")
    w, h = int(m.group(1)), int(m.group(2))
    if w < 64 or h < 64 or w % 2 or h % 2:
        raise typer.BadParameter(f"width and height must be even and at least 64, got {w}x{h}")
    return w, h


def synth(
    scenario: Annotated[str, typer.Option(help="Built-in scenario name (see --list)")] = "market-street-day",
    seed: Annotated[int | None, typer.Option(help="Street, camera and crowd seed (default: the scenario's own)")] = None,
    duration: Annotated[float | None, typer.Option(help="Seconds (default: the scenario's own length)")] = None,
    fps: Annotated[float, typer.Option(help="Frames per second")] = 10.0,
    size: Annotated[str, typer.Option(help="WIDTHxHEIGHT of the video")] = "960x540",
    out: Annotated[Path, typer.Option(help="Folder for NAME.mp4, NAME.zones.yaml and NAME.truth.json")] = Path("sample_videos"),
    name: Annotated[str | None, typer.Option(help="Clip and camera name (default: the scenario name)")] = None,
    crf: Annotated[int, typer.Option(help="x264 quality 0-51: higher is smaller")] = 29,
    list_scenarios: Annotated[bool, typer.Option("--list", help="List the built-in scenarios and exit")] = False,
    preview: Annotated[float | None, typer.Option(help="Only write NAME.preview.png at this second, zones drawn")] = None,
) -> None:
    """Render a procedural street clip with exact ground truth (deterministic for a seed)."""
    from detector.synth.scenarios import SCENARIOS

    if list_scenarios:
        for s in SCENARIOS.values():
            typer.echo(f"{s.name:26s} {s.look:9s} {s.duration_s:5.0f} s  seed {s.seed:<5d} {s.description}")
        return
    if scenario not in SCENARIOS:
        typer.echo(f"error: unknown scenario {scenario!r}; built-in: {', '.join(SCENARIOS)}", err=True)
        raise typer.Exit(2)
    if fps <= 0 or fps > 60:
        typer.echo(f"error: --fps must be in (0, 60], got {fps}", err=True)
        raise typer.Exit(2)
    if not 0 <= crf <= 51:
        typer.echo(f"error: --crf must be in 0-51, got {crf}", err=True)
        raise typer.Exit(2)
    if duration is not None and not (0 < duration <= 1800):
        typer.echo(f"error: --duration must be in (0, 1800] seconds, got {duration}", err=True)
        raise typer.Exit(2)
    if name is not None and not re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", name):
        typer.echo(f"error: --name may use letters, digits, '_', '.', '-' only, got {name!r}", err=True)
        raise typer.Exit(2)
    try:
        wh = _size(size)
    except typer.BadParameter as exc:
        typer.echo(f"error: --size: {exc}", err=True)
        raise typer.Exit(2) from None

    import cv2

    from detector.synth.clip import ScenarioError, build_plan, write_clip
    from detector.synth.clip import preview as preview_frame

    try:
        plan = build_plan(SCENARIOS[scenario], seed=seed, duration_s=duration, fps=fps, size=wh, name=name)
    except ScenarioError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        typer.echo(f"error: cannot create {out}: {exc.strerror}", err=True)
        raise typer.Exit(1) from None
    if preview is not None:
        path = out / f"{plan.name}.preview.png"
        cv2.imwrite(str(path), preview_frame(plan, preview))
        typer.echo(f"wrote {path}")
        return
    started = time.monotonic()
    total = plan.frame_count

    def progress(i: int) -> None:
        if sys.stderr.isatty() and (i % 50 == 0 or i == total - 1):
            print(f"\r{plan.name}: frame {i + 1}/{total}", end="", file=sys.stderr, flush=True)

    try:
        summary = write_clip(plan, out, crf=crf, on_frame=progress)
    except (OSError, RuntimeError) as exc:
        typer.echo(f"\nerror: cannot write the clip: {exc}", err=True)
        raise typer.Exit(1) from None
    if sys.stderr.isatty():
        print(file=sys.stderr)
    note = "" if summary["codec"] == "libx264" else f" (libx264 missing: encoded with {summary['codec']})"
    typer.echo(f"wrote {summary['video']} ({int(summary['bytes']) / 1e6:.1f} MB, {total} frames, "
               f"{time.monotonic() - started:.0f} s){note}, {summary['zones']}, {summary['truth']} "
               f"({summary['episodes']} episodes)")
