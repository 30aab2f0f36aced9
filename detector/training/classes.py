"""The model's class list, read from ``models/frontage-n.classes.yaml`` (never a second copy)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CLASSES_FILE = ROOT / "models" / "frontage-n.classes.yaml"

#: COCO teacher class -> frontage-n class, for the classes both models know.
TEACHER_MAP: dict[str, str] = {
    "person": "person",
    "bicycle": "bicycle",
    "motorcycle": "e_bike",
    "chair": "chair",
    "dining table": "table",
    "umbrella": "parasol",
    "bench": "bench",
}

#: Source names used in file names, val lists and the dataset card.
SOURCES = ("synth", "bags", "teacher", "composite", "relearn")


@lru_cache(maxsize=4)
def class_names(path: Path = CLASSES_FILE) -> tuple[str, ...]:
    """Class names in class-id order.

    >>> class_names()[:3]
    ('person', 'bicycle', 'e_bike')
    """
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return tuple(str(k) for k in data["classes"])


def class_id(name: str) -> int:
    """>>> class_id("trash_bag") == class_names().index("trash_bag")
    True
    """
    try:
        return class_names().index(name)
    except ValueError:
        raise KeyError(f"{name!r} is not a frontage-n class (see {CLASSES_FILE})") from None
