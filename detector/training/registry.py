"""The model registry ``models/versions.json``: every model gets a version, its sha256 and its metrics.

Edge boxes compare the sha256 of the ONNX they run with the registry (and the case service shows the
version in each event's ``ModelInfo``). One entry per exported model, newest last::

    {"models": [{"name": "frontage-n", "version": "1.0", "onnx": "models/frontage-n.onnx",
                 "onnx_sha256": "...", "pt_sha256": "...", "created": "...", "parent": null,
                 "data": "...", "recipe": "...", "metrics": {...}}]}
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = ROOT / "models" / "versions.json"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load(path: Path = REGISTRY) -> dict:
    if not path.exists():
        return {"models": []}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    data.setdefault("models", [])
    return data


def latest(name: str = "frontage-n", path: Path = REGISTRY) -> dict | None:
    entries = [m for m in load(path)["models"] if m.get("name") == name]
    return entries[-1] if entries else None


def next_version(name: str = "frontage-n", bump: str = "minor", path: Path = REGISTRY) -> str:
    """``1.0`` for the first model; ``minor`` for a fine-tune (1.0 -> 1.1), ``major`` for a new base (-> 2.0).

    >>> next_version(path=Path("/nonexistent/versions.json"))
    '1.0'
    """
    last = latest(name, path)
    if last is None:
        return "1.0"
    major, minor = (int(x) for x in str(last["version"]).split(".")[:2])
    return f"{major + 1}.0" if bump == "major" else f"{major}.{minor + 1}"


def register(entry: dict, path: Path = REGISTRY) -> dict:
    """Append ``entry`` (replacing an entry with the same name and version)."""
    data = load(path)
    entry = {"created": datetime.now(UTC).isoformat(timespec="seconds"), **entry}
    data["models"] = [m for m in data["models"]
                      if not (m.get("name") == entry.get("name") and m.get("version") == entry.get("version"))]
    data["models"].append(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return entry
