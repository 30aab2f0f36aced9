"""Unit tests of the dataset builder's parts: polygon -> box, class merge, teacher mapping, copy-paste."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detector.training.classes import TEACHER_MAP, class_id, class_names
from detector.training.composite import Cutout, composite, cutouts_from_polygons, perspective_height
from detector.training.dataset import bag_boxes
from detector.training.evaluate import match_recall
from detector.training.labels import polygon_to_box, read_polygon_labels, read_yolo_labels, yolo_line


def test_polygon_to_box_is_the_polygon_extent_clipped() -> None:
    assert polygon_to_box([0.2, 0.3, 0.6, 0.1, 0.5, 0.9, 0.1, 0.4]) == (0.1, 0.1, 0.6, 0.9)
    assert polygon_to_box([-0.1, 0.5, 1.2, 0.5, 0.5, 1.5]) == (0.0, 0.5, 1.0, 1.0)
    with pytest.raises(ValueError, match="even number"):
        polygon_to_box([0.1, 0.2, 0.3])


def test_both_bag_classes_become_trash_bag(tmp_path: Path) -> None:
    label = tmp_path / "x.txt"
    # class 0 general_trashbag, class 1 other_trashbag, plus a blank line (Roboflow exports have them)
    label.write_text("0 0.1 0.1 0.3 0.1 0.3 0.4\n1 0.5 0.5 0.9 0.5 0.9 0.8 0.5 0.8\n\n")
    assert [c for c, _ in read_polygon_labels(label)] == [0, 1]
    boxes = bag_boxes(label, 100, 200)
    np.testing.assert_allclose(boxes, [[10, 20, 30, 80], [50, 100, 90, 160]], atol=1e-4)
    line = yolo_line(class_id("trash_bag"), boxes[0], 100, 200)
    cls, back = read_yolo_labels(_write(tmp_path / "y.txt", line), 100, 200)
    assert cls.tolist() == [class_names().index("trash_bag")]
    np.testing.assert_allclose(back, boxes[:1], atol=1e-3)


def _write(path: Path, text: str) -> Path:
    path.write_text(text + "\n")
    return path


def test_teacher_map_targets_are_model_classes_in_the_class_file() -> None:
    names = class_names()
    assert set(TEACHER_MAP.values()) <= set(names)
    assert TEACHER_MAP["motorcycle"] == "e_bike" and TEACHER_MAP["dining table"] == "table"
    assert TEACHER_MAP["umbrella"] == "parasol"
    assert "car" not in TEACHER_MAP  # cars are no frontage-n class: the teacher's cars are not labels


@pytest.mark.shared
def test_teacher_maps_coco_ids_through_its_metadata(shared_dir: Path) -> None:
    from detector.training.teacher import CocoTeacher

    teacher = CocoTeacher(shared_dir / "models" / "yolov8n-coco-int8.onnx")
    names = class_names()
    for coco_name, ours in TEACHER_MAP.items():
        assert names[teacher.to_frontage[teacher.coco_names.index(coco_name)]] == ours
    assert teacher.to_frontage[teacher.coco_names.index("car")] == -1
    # a real frame: only shared classes come out, boxes inside the frame
    from detector.training.real_frames import decode_frames

    frame = next(decode_frames(shared_dir / "videos" / "pets2009_campus_480x360.avi"))
    cls, xyxy, conf = teacher(frame)
    assert len(cls) > 0 and set(cls.tolist()) <= {names.index(v) for v in TEACHER_MAP.values()}
    assert (xyxy[:, [0, 2]] <= 480).all() and (xyxy[:, [1, 3]] <= 360).all() and (xyxy >= 0).all()
    assert (conf >= 0.5).all()


def _blob(h: int, w: int) -> np.ndarray:
    img = np.zeros((h, w, 4), np.uint8)
    img[:, :, :3] = (40, 60, 200)
    img[h // 8 : -h // 8, w // 8 : -w // 8, 3] = 255
    return img


def test_copy_paste_boxes_stay_inside_the_image_and_cover_the_object() -> None:
    rng = np.random.default_rng(3)
    frame = np.full((360, 640, 3), (110, 128, 125), np.uint8)  # colour: a grey frame would grey the paste
    old = np.array([[10, 200, 60, 300]], np.float32)
    cuts = [Cutout(_blob(120, 80), "trash_bag") for _ in range(8)]
    img, boxes, names = composite(frame, old, ["person"], cuts, rng)
    assert img.shape == frame.shape and len(boxes) == len(names) >= 5
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= 640).all()
    assert (boxes[:, 1] >= 0).all() and (boxes[:, 3] <= 360).all()
    assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
    for (x0, y0, x1, y1), name in zip(boxes.astype(int), names, strict=True):
        if name == "trash_bag":  # the pasted red object fills its box (the shadow is outside it)
            patch = img[y0:y1, x0:x1].astype(int)
            assert (patch[:, :, 2] - patch[:, :, 0] > 60).mean() > 0.5


def test_perspective_scale_shrinks_towards_the_horizon() -> None:
    rng = np.random.default_rng(0)
    frame = np.full((720, 1280, 3), 100, np.uint8)
    _, boxes, _ = composite(frame, np.zeros((0, 4)), [], [Cutout(_blob(200, 100), "trash_bag")] * 12, rng)
    heights, bottoms = boxes[:, 3] - boxes[:, 1], boxes[:, 3]
    order = np.argsort(bottoms)
    # lower in the image (larger y) -> taller on average (the random size factor is 0.18-0.42)
    assert heights[order[-4:]].mean() > heights[order[:4]].mean()
    assert perspective_height(400, 720, 0.3, 0.3) < perspective_height(700, 720, 0.3, 0.3)


def test_polygon_cutout_is_transparent_outside_the_polygon() -> None:
    img = np.full((100, 100, 3), 200, np.uint8)
    cuts = cutouts_from_polygons(img, [[0.1, 0.1, 0.9, 0.1, 0.1, 0.9]], "trash_bag")
    assert len(cuts) == 1
    alpha = cuts[0].image[:, :, 3]
    assert alpha[2, 2] == 255 and alpha[-2, -2] == 0  # triangle: top-left in, bottom-right out


def test_match_recall_counts_each_prediction_once() -> None:
    gt = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], float)
    found = match_recall(np.array([0, 0]), gt, np.array([0]), np.array([[0, 0, 10, 10]], float))
    assert found.sum() == 1


def test_synth_only_build_is_deterministic(tmp_path: Path) -> None:
    from detector.training.dataset import BuildOptions, build_dataset

    reports = []
    for name in ("a", "b"):
        reports.append(build_dataset(BuildOptions(out=tmp_path / name, synth=4, composites=2, seed=5),
                                     progress=lambda m: None))
        assert "synthetic part alone" in reports[-1].notes[0]
    labels_a = sorted((tmp_path / "a" / "labels").rglob("*.txt"))
    labels_b = sorted((tmp_path / "b" / "labels").rglob("*.txt"))
    assert [p.name for p in labels_a] == [p.name for p in labels_b] and len(labels_a) == 6
    assert all(a.read_text() == b.read_text() for a, b in zip(labels_a, labels_b, strict=True))
    card = (tmp_path / "a" / "DATASET_CARD.md").read_text()
    assert "| synth |" in card and "| composite |" in card
    assert (tmp_path / "a" / "val_synth.txt").exists()
