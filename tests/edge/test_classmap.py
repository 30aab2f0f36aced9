"""Class maps: the shipped files load, unknown categories are one clear error, ignore classes are dropped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detector.classmap import ClassMap, ClassMapError, classes_file_for, zone_categories, zone_category
from detector.detections import Detections

ROOT = Path(__file__).resolve().parents[2]


def _dets(names: tuple[str, ...], ids: list[int]) -> Detections:
    n = len(ids)
    return Detections(xyxy=np.tile(np.array([[0, 0, 10, 10]], np.float32), (n, 1)),
                      confidence=np.linspace(0.5, 0.9, n).astype(np.float32),
                      class_id=np.array(ids, np.int64), class_names=names)


def test_shipped_class_maps_load() -> None:
    frontage = ClassMap.load(ROOT / "models" / "frontage-n.classes.yaml")
    assert frontage.model == "frontage-n" and frontage.default is None
    assert frontage.category_of("trash_bag") == "exposed_garbage"
    coco = ClassMap.load(ROOT / "models" / "coco.classes.yaml")
    assert coco.category_of("car") == "ignore"  # default: ignore
    assert coco.category_of("dining table") == "out_of_store_trading"


def test_apply_maps_and_drops_ignore() -> None:
    cmap = ClassMap.load(ROOT / "models" / "frontage-n.classes.yaml")
    names = tuple(cmap.classes)
    d = _dets(names, [names.index("person"), names.index("chair"), names.index("bench"), names.index("trash_bag")])
    out = cmap.apply(d)
    assert out.data["category"].tolist() == ["out_of_store_trading", "exposed_garbage"]
    assert out.names.tolist() == ["chair", "trash_bag"]
    assert len(cmap.apply(Detections.empty(names))) == 0


def test_unknown_category_names_file_and_class(tmp_path: Path) -> None:
    f = tmp_path / "bad.classes.yaml"
    f.write_text("classes:\n  chair: outdoor_dining\n")
    with pytest.raises(ClassMapError) as err:
        ClassMap.load(f)
    assert str(f) in str(err.value) and "'chair'" in str(err.value) and "outdoor_dining" in str(err.value)


def test_unlisted_class_without_default_is_clear_error(tmp_path: Path) -> None:
    cmap = ClassMap.from_dict({"classes": {"chair": "out_of_store_trading"}}, "x.yaml")
    with pytest.raises(ClassMapError, match="'sofa' is not listed"):
        cmap.apply(_dets(("chair", "sofa"), [1]))


@pytest.mark.parametrize("text", ["classes: [", "just a string", "classes: {}"])
def test_malformed_files(tmp_path: Path, text: str) -> None:
    f = tmp_path / "m.classes.yaml"
    f.write_text(text)
    with pytest.raises(ClassMapError, match=str(f)):
        ClassMap.load(f)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ClassMapError, match="not found"):
        ClassMap.load(tmp_path / "nope.yaml")


def test_stall_cart_counts_as_trading_in_merchant_zone() -> None:
    assert zone_category("street_vending", True) == "out_of_store_trading"
    assert zone_category("street_vending", False) == "street_vending"
    cats = np.array(["street_vending", "exposed_garbage"], dtype=object)
    assert zone_categories(cats, True).tolist() == ["out_of_store_trading", "exposed_garbage"]
    assert cats.tolist() == ["street_vending", "exposed_garbage"]  # not modified in place


def test_default_classes_file() -> None:
    assert classes_file_for("models/frontage-n.onnx") == Path("models/frontage-n.classes.yaml")


def test_score_floors_drop_weak_violation_boxes_and_keep_ignored_ones() -> None:
    cmap = ClassMap.from_dict({"classes": {"person": "ignore", "trash_bag": "exposed_garbage"},
                               "min_score": {"trash_bag": 0.6, "person": 0.95}})
    d = _dets(("person", "trash_bag"), [0, 1, 1])  # scores 0.5, 0.7, 0.9
    assert [round(float(c), 2) for c in cmap.apply(d).confidence] == [0.7, 0.9]
    kept = cmap.apply(d, keep_ignored=True)  # an ignore class is never floored: it only votes and suppresses
    assert kept.data["category"].tolist() == ["ignore", "exposed_garbage", "exposed_garbage"]
    weak = _dets(("person", "trash_bag"), [1, 1])  # 0.5 and 0.9
    assert [round(float(c), 2) for c in cmap.apply(weak).confidence] == [0.9]


@pytest.mark.parametrize("floors, message", [
    ("{chair: 0.5}", "min_score names class 'chair'"),
    ("{trash_bag: 1.5}", "between 0 and 1"),
    ("{trash_bag: high}", "between 0 and 1"),
    ("[0.5]", "'min_score' must map"),
])
def test_bad_score_floors_are_one_clear_error(tmp_path: Path, floors: str, message: str) -> None:
    path = tmp_path / "m.classes.yaml"
    path.write_text(f"classes: {{trash_bag: exposed_garbage}}\nmin_score: {floors}\n")
    with pytest.raises(ClassMapError, match=message) as err:
        ClassMap.load(path)
    assert str(path) in str(err.value)
