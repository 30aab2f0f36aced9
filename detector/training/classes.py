"""The model's class lists, read from the class map files (never a second copy).

Two versions live side by side:

- ``models/frontage-n.classes.yaml`` (`CLASSES_FILE`): the shipped model's 14 classes. The edge, the
  re-learning tools and a default ``frontage dataset build`` use it; it must not change while 3.1 ships.
- ``models/frontage-n.next.classes.yaml`` (`NEXT_CLASSES_FILE`): the next model's list, the same 14 first
  (same ids) plus the street things that are never violations (cars, buses, pushchairs, posters...), all
  ``ignore``. ``frontage dataset build --classes models/frontage-n.next.classes.yaml`` and
  ``frontage train grow-head`` read it (docs/TRAINING_NEXT.md).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CLASSES_FILE = ROOT / "models" / "frontage-n.classes.yaml"
NEXT_CLASSES_FILE = ROOT / "models" / "frontage-n.next.classes.yaml"

#: COCO teacher class -> frontage-n class, for every class the teacher and some frontage-n version share.
#: A class list only uses the entries whose target it has (`teacher_map_for`): the shipped list has no
#: ``car``, so the teacher's cars are no labels there.
TEACHER_MAP: dict[str, str] = {
    "person": "person",
    "bicycle": "bicycle",
    "motorcycle": "e_bike",
    "chair": "chair",
    "dining table": "table",
    "umbrella": "parasol",
    "bench": "bench",
    # next model's street things
    "car": "car",
    "truck": "van_truck",
    "bus": "bus",
    "dog": "dog",
    "handbag": "handbag",
    "backpack": "backpack",
    "suitcase": "suitcase",
    "potted plant": "planter",
    "parking meter": "kiosk",
}

#: Source names used in file names, val lists and the dataset card.
SOURCES = ("synth", "bags", "teacher", "composite", "relearn", "garbage", "hardneg")


@lru_cache(maxsize=4)
def class_names(path: Path = CLASSES_FILE) -> tuple[str, ...]:
    """Class names in class-id order.

    >>> class_names()[:3]
    ('person', 'bicycle', 'e_bike')
    >>> class_names(NEXT_CLASSES_FILE)[:14] == class_names()  # the next list extends the shipped one
    True
    """
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return tuple(str(k) for k in data["classes"])


@lru_cache(maxsize=4)
def class_categories(path: Path = CLASSES_FILE) -> dict[str, str]:
    """Class name -> category (or ``ignore``) as the class map file says."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data["classes"].items()}


def new_classes(path: Path = NEXT_CLASSES_FILE, base: Path = CLASSES_FILE) -> tuple[str, ...]:
    """Classes of ``path`` that ``base`` lacks, in class-id order.

    >>> new_classes()[:3]
    ('car', 'van_truck', 'bus')
    """
    old = set(class_names(base))
    return tuple(n for n in class_names(path) if n not in old)


def teacher_map_for(names: tuple[str, ...]) -> dict[str, str]:
    """The part of `TEACHER_MAP` whose targets are in ``names``.

    >>> "car" in teacher_map_for(class_names()), "car" in teacher_map_for(class_names(NEXT_CLASSES_FILE))
    (False, True)
    """
    return {k: v for k, v in TEACHER_MAP.items() if v in names}


def class_id(name: str, path: Path = CLASSES_FILE) -> int:
    """Class id of ``name`` in the class list at ``path``.

    >>> class_id("trash_bag"), class_id("car", NEXT_CLASSES_FILE)
    (10, 14)
    """
    try:
        return class_names(path).index(name)
    except ValueError:
        raise KeyError(f"{name!r} is not a frontage-n class (see {path})") from None
