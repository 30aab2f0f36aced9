"""Reading the YAML files people edit (edge.yaml, zones, class maps) with one-line errors that name the file."""

from __future__ import annotations

from pathlib import Path

import yaml


def read_yaml(path: str | Path, error: type[Exception], what: str) -> object:
    """Parse ``path``; a missing, unreadable or malformed file raises ``error`` with one clear line.

    >>> read_yaml("/nonexistent.yaml", ValueError, "zones file")
    Traceback (most recent call last):
    ...
    ValueError: /nonexistent.yaml: zones file not found
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read {what} ({exc})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise error(f"{path}: malformed YAML{f' at line {mark.line + 1}' if mark else ''}") from None
