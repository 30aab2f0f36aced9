"""The model's class list, read from the class map file (never a second copy).

``models/frontage-n.classes.yaml`` (`CLASSES_FILE`) is the shipped model's list: since 4.0, 3.1's 14 classes
(same ids) and then the street things that are never violations by themselves (cars, buses, pushchairs,
posters...), all ``ignore`` (issue 15). The edge, the re-learning tools and ``frontage dataset build`` use it.
A later model with more classes gets its own list (``--classes``) and ``frontage train grow-head`` grows the
shipped head to it (docs/TRAINING_NEXT.md).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CLASSES_FILE = ROOT / "models" / "frontage-n.classes.yaml"
#: how many classes 3.1 had: its head rows are the first rows of every later list
CLASSES_31 = 14

#: COCO teacher class -> frontage-n class, for every class the teacher and some frontage-n version share.
#: A class list only uses the entries whose target it has (`teacher_map_for`): 3.1's list had no ``car``,
#: so the teacher's cars were no labels there.
TEACHER_MAP: dict[str, str] = {
    "person": "person",
    "bicycle": "bicycle",
    "motorcycle": "e_bike",
    "chair": "chair",
    "dining table": "table",
    "umbrella": "parasol",
    "bench": "bench",
    # street things (4.0)
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
    >>> class_names()[CLASSES_31:CLASSES_31 + 3]  # 4.0's street things come after 3.1's 14
    ('car', 'van_truck', 'bus')
    """
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return tuple(str(k) for k in data["classes"])


@lru_cache(maxsize=4)
def class_categories(path: Path = CLASSES_FILE) -> dict[str, str]:
    """Class name -> category (or ``ignore``) as the class map file says."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data["classes"].items()}


def teacher_map_for(names: tuple[str, ...]) -> dict[str, str]:
    """The part of `TEACHER_MAP` whose targets are in ``names``.

    >>> "car" in teacher_map_for(class_names()), "car" in teacher_map_for(class_names()[:CLASSES_31])
    (True, False)
    """
    return {k: v for k, v in TEACHER_MAP.items() if v in names}


def class_id(name: str, path: Path = CLASSES_FILE) -> int:
    """Class id of ``name`` in the class list at ``path``.

    >>> class_id("trash_bag"), class_id("car")
    (10, 14)
    """
    try:
        return class_names(path).index(name)
    except ValueError:
        raise KeyError(f"{name!r} is not a frontage-n class (see {path})") from None
