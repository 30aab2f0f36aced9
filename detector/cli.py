"""`frontage`: one command line for the edge, the model tools and (when installed) the case service.

Each subsystem keeps its own commands in its own ``cli.py`` (heavy imports inside the functions, so
``frontage --help`` stays fast); this file only assembles them. Server commands (``serve``, ``demo``)
come from the ``frontage.commands`` entry-point group, so `detector` never imports `api` and the lean
edge image, which lacks the server extra, simply does not list them.
"""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import entry_points

import typer

app = typer.Typer(
    name="frontage",
    help="Frontage: street-front sanitation violations, from camera to closed case.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# (module, attribute, command name): each attribute is a plain typer-annotated function or a Typer app.
_COMMANDS: list[tuple[str, str, str]] = [
    ("detector.pipeline.cli", "analyze", "analyze"),
    ("detector.pipeline.cli", "edge", "edge"),
    ("detector.synth.cli", "synth", "synth"),
    ("detector.training.cli", "train_app", "train"),
    ("detector.training.cli", "relearn_app", "relearn"),
    ("detector.training.cli", "dataset_app", "dataset"),
]


def _register() -> None:
    for module_name, attr, name in _COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:  # a subsystem not present in this install
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        obj = getattr(module, attr)
        if isinstance(obj, typer.Typer):
            app.add_typer(obj, name=name)
        else:
            app.command(name)(obj)
    for ep in entry_points(group="frontage.commands"):
        try:
            ep.load()(app)
        except ImportError as exc:  # server extra not installed (edge image)
            print(f"note: '{ep.name}' commands unavailable: {exc}", file=sys.stderr) if "-v" in sys.argv else None


_register()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
