"""Facts about a model file that every engine needs: its hash and the input size in its metadata."""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path


def file_sha256(path: str | Path) -> str | None:
    """sha256 of a model file (of the .xml+.bin pair for an OpenVINO folder); None if unreadable."""
    p = Path(path)
    h = hashlib.sha256()
    files = sorted(p.glob("*.xml")) + sorted(p.glob("*.bin")) if p.is_dir() else [p]
    try:
        for f in files:
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    except OSError:
        return None
    return h.hexdigest() if files else None


def metadata_imgsz(meta: dict[str, str]) -> int | None:
    """Long side of ultralytics' ``imgsz`` metadata (``[320, 320]`` or ``320``), if present.

    >>> metadata_imgsz({"imgsz": "[384, 640]"}), metadata_imgsz({"imgsz": "320"}), metadata_imgsz({})
    (640, 320, None)
    """
    try:
        value = ast.literal_eval(meta["imgsz"])
    except (KeyError, ValueError, SyntaxError):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, int) for v in value):
        return max(value)
    return None
