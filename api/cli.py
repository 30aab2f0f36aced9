"""``frontage serve`` and ``frontage demo``: registered on the ``frontage`` app through the
``frontage.commands`` entry point (``detector`` never imports ``api``). Heavy imports stay inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (each runs the scheduler safely)")] = 1,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error")] = "info",
) -> None:
    """Run the case service (settings from FRONTAGE_* environment variables)."""
    import uvicorn

    from api.core.config import Settings

    settings = Settings()
    if workers > 1 and settings.database_url.startswith("sqlite"):
        typer.echo("note: several workers on SQLite share one writer; use PostgreSQL for real concurrency", err=True)
    uvicorn.run("api.main:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, proxy_headers=True, forwarded_allow_ips=settings.forwarded_allow_ips)


def demo(
    host: Annotated[str, typer.Option(help="Interface for the demo service")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (a free one is taken if busy)")] = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Exit after the report instead of serving")] = False,
    videos: Annotated[Path, typer.Option(help="Folder with NAME.mp4 + NAME.zones.yaml (+ NAME.truth.json)")] = Path(
        "sample_videos"),
    workdir: Annotated[Path, typer.Option(help="Demo state (wiped at start)")] = Path("var/demo"),
    model: Annotated[Path, typer.Option(help="Model for the edge run")] = Path("models/frontage-n.onnx"),
    classes: Annotated[Path | None, typer.Option(help="Class map (default: <model stem>.classes.yaml)")] = None,
    edge_timeout_s: Annotated[float, typer.Option(help="Longest the edge run may take")] = 900.0,
) -> None:
    """The whole story on the sample clips: service, edge, operator, merchants, deadlines, statistics."""
    from api.demo import DemoError, run_demo

    try:
        run_demo(host=host, port=port, serve=not no_serve, videos=videos, workdir=workdir, model=model,
                 edge_timeout_s=edge_timeout_s, classes=classes)
    except DemoError as exc:
        typer.echo(f"demo: {exc}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        typer.echo("demo: stopped")


def register(app: typer.Typer) -> None:
    """Add the server commands to the `frontage` command line."""
    app.command("serve")(serve)
    app.command("demo")(demo)
