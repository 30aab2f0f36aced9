"""Class maps: model class name -> Frontage category (or ``ignore``), from ``models/<model>.classes.yaml``.

A class map is bound once to a model's class list (`ClassMap.bind`) into a numpy lookup table, so mapping
a frame's detections is one vectorised indexing step. Detections of ``ignore`` classes are dropped (or kept
for the rules, ``keep_ignored``); the rest carry ``data["category"]`` (an object array of category strings).

``min_score`` (optional) is the lowest score a box of a violation class may have to reach the rules: the
score floors calibrated on real negative footage for that model (``python -m bench.real_footage`` prints the
score distributions; ``models/MODEL_CARD.md`` has the figures). It belongs to the model, so it lives in the
model's classes file, beside the mapping.

The one place where a category depends on the zone is `zone_category` at the bottom of this file: a stall
cart / street vending in a zone that has a merchant counts as that merchant's out-of-store trading.

>>> cmap = ClassMap.from_dict({"classes": {"person": "ignore", "chair": "out_of_store_trading"}}, "demo")
>>> import numpy as np
>>> from detector.detections import Detections
>>> d = Detections(xyxy=np.array([[0, 0, 5, 5], [1, 1, 9, 9]], np.float32), confidence=np.array([0.9, 0.8], np.float32),
...                class_id=np.array([0, 1]), class_names=("person", "chair"))
>>> cmap.apply(d).data["category"].tolist()
['out_of_store_trading']
>>> floored = ClassMap.from_dict({"classes": {"person": "ignore", "chair": "out_of_store_trading"}, "min_score": {"chair": 0.85}})
>>> len(floored.apply(d[[1]]))
0
>>> zone_category("street_vending", zone_has_merchant=True)
'out_of_store_trading'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from detector.categories import IGNORE, Category
from detector.detections import Detections
from detector.yamlfile import read_yaml

_VALID = {str(c) for c in Category} | {IGNORE}


class ClassMapError(ValueError):
    """A class map that cannot be used; the message names the file and the class."""


@dataclass(frozen=True)
class ClassMap:
    """Model class name -> category string (or ``"ignore"``)."""

    source: str
    model: str
    classes: dict[str, str]
    default: str | None = None  # category for classes not listed; None: unlisted classes are an error
    min_score: dict[str, float] = field(default_factory=dict)  # class -> lowest score a violation box may have
    _tables: dict[tuple[str, ...], np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: object, source: str = "<classes>") -> ClassMap:
        if not isinstance(data, dict) or not isinstance(data.get("classes"), dict) or not data["classes"]:
            raise ClassMapError(f"{source}: expected a mapping with a non-empty 'classes' mapping")
        classes: dict[str, str] = {}
        for name, category in data["classes"].items():
            value = str(category)
            if value not in _VALID:
                raise ClassMapError(
                    f"{source}: class {name!r} maps to unknown category {value!r} "
                    f"(expected one of: {', '.join(sorted(_VALID))})"
                )
            classes[str(name)] = value
        default = data.get("default")
        if default is not None and str(default) not in _VALID:
            raise ClassMapError(f"{source}: default maps to unknown category {default!r}")
        floors = data.get("min_score") or {}
        if not isinstance(floors, dict):
            raise ClassMapError(f"{source}: 'min_score' must map class names to scores between 0 and 1")
        min_score: dict[str, float] = {}
        for name, value in floors.items():
            if str(name) not in classes:
                raise ClassMapError(f"{source}: min_score names class {name!r}, which 'classes' does not list")
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ClassMapError(f"{source}: min_score of {name!r} must be a number between 0 and 1, got {value!r}")
            min_score[str(name)] = float(value)
        return cls(source=source, model=str(data.get("model") or Path(source).stem), classes=classes,
                   default=None if default is None else str(default), min_score=min_score)

    @classmethod
    def load(cls, path: str | Path) -> ClassMap:
        """Read a classes file; every problem raises `ClassMapError` with one line naming the file."""
        return cls.from_dict(read_yaml(path, ClassMapError, "classes file"), str(path))

    def category_of(self, class_name: str) -> str:
        """Category (or ``"ignore"``) of one model class."""
        if class_name in self.classes:
            return self.classes[class_name]
        if self.default is not None:
            return self.default
        raise ClassMapError(f"{self.source}: model class {class_name!r} is not listed and the file sets no default")

    def bind(self, class_names: tuple[str, ...]) -> np.ndarray:
        """Lookup table class_id -> category string (object array); checks every model class once."""
        table = self._tables.get(class_names)
        if table is None:
            table = np.array([self.category_of(n) for n in class_names], dtype=object)
            self._tables[class_names] = table
        return table

    def apply(self, detections: Detections, keep_ignored: bool = False) -> Detections:
        """Detections with ``data["category"]``, without the ``ignore`` ones unless ``keep_ignored``.

        The rules keep them (category ``"ignore"``): a person or a car standing on a box read as a bag
        outvotes and suppresses it, and hides what is behind it from the pixel check.
        """
        if not len(detections):
            return detections.with_data(category=np.array([], dtype=object))
        names = tuple(detections.class_names)
        categories = self.bind(names)[detections.class_id]
        categorised = detections.with_data(category=categories)
        keep = np.ones(len(detections), bool) if keep_ignored else categories != IGNORE
        if self.min_score:
            floor = self._floors(names)[detections.class_id]
            keep &= (categories == IGNORE) | (detections.confidence >= floor)
        return categorised if keep.all() else categorised[keep]

    def _floors(self, class_names: tuple[str, ...]) -> np.ndarray:
        key = ("min_score", *class_names)
        table = self._tables.get(key)
        if table is None:
            table = np.array([self.min_score.get(n, 0.0) for n in class_names], np.float32)
            self._tables[key] = table
        return table


def classes_file_for(model_path: str | Path) -> Path:
    """Default classes file of a model: ``<model stem>.classes.yaml`` beside it."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + ".classes.yaml")


def zone_category(category: str, zone_has_merchant: bool) -> str:
    """The category an object counts as *in a given zone* (the only zone-dependent mapping).

    A street-vending stall standing in a zone that belongs to a merchant is that merchant trading outside
    the shop; in a zone without a merchant it stays street vending.
    """
    if category == Category.STREET_VENDING and zone_has_merchant:
        return str(Category.OUT_OF_STORE_TRADING)
    return category


def zone_categories(categories: np.ndarray, zone_has_merchant: bool) -> np.ndarray:
    """Vectorised `zone_category`."""
    if not zone_has_merchant or not len(categories):
        return categories
    out = categories.copy()
    out[out == str(Category.STREET_VENDING)] = str(Category.OUT_OF_STORE_TRADING)
    return out
