"""``frontage serve``: registered on the ``frontage`` app through the ``frontage.commands`` entry point
(``detector`` never imports ``api``). Heavy imports stay inside the commands. The demo is not a product
command: ``make demo`` runs ``scripts/demo.py``.
"""

from __future__ import annotations

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

    from api.core.config import SecretKeyMissing, Settings

    settings = Settings()
    try:
        settings.signing_key()  # refuse here, in one clear line, before uvicorn starts any worker
    except SecretKeyMissing as exc:
        typer.echo(f"serve: {exc}", err=True)
        raise typer.Exit(2) from None
    if workers > 1 and settings.database_url.startswith("sqlite"):
        typer.echo("note: several workers on SQLite share one writer; use PostgreSQL for real concurrency", err=True)
    uvicorn.run("api.main:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, proxy_headers=True, forwarded_allow_ips=settings.forwarded_allow_ips)


def register(app: typer.Typer) -> None:
    """Add the server commands to the `frontage` command line."""
    app.command("serve")(serve)
