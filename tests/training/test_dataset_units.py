"""Unit tests of the dataset builder's parts: polygon -> box, class merge, teacher mapping, copy-paste, the
street-thing classes, hard-negative mining, photo de-duplication, street-garbage labels."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from detector.training.classes import (
    CLASSES_31,
    CLASSES_FILE,
    TEACHER_MAP,
    class_id,
    class_names,
    teacher_map_for,
)
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
    assert teacher_map_for(names)["truck"] == "van_truck"
    # cars were no class of 3.1: under its list the teacher's cars are not labels
    assert "car" not in teacher_map_for(names[:CLASSES_31])


#: what issue 15 asks the model to know, all never a violation by themselves
STREET_THINGS_ASKED = ("car", "van_truck", "bus", "pushchair", "wheelchair", "dog", "handbag", "backpack", "suitcase",
                       "kiosk", "bollard", "planter", "bike_rack", "poster", "window_display")


def test_every_new_class_is_in_the_shipped_class_map_as_ignore() -> None:
    from detector.categories import IGNORE
    from detector.classmap import ClassMap
    from detector.synth.objects import STREET_THINGS

    shipped = ClassMap.load(CLASSES_FILE)  # the edge's own loader accepts it
    names = class_names(CLASSES_FILE)
    assert set(STREET_THINGS_ASKED) == set(names[CLASSES_31:]) == set(STREET_THINGS)
    for name in STREET_THINGS_ASKED:
        assert shipped.category_of(name) == IGNORE, name
    # 3.1's 14 classes keep their ids and categories
    assert names[:CLASSES_31] == ("person", "bicycle", "e_bike", "goods_display", "table", "chair", "parasol",
                                  "a_frame_sign", "stall_cart", "stacked_materials", "trash_bag", "litter_pile",
                                  "bench", "bin")
    assert [shipped.category_of(n) for n in names[1:12]] == ["disorderly_parking"] * 2 + ["out_of_store_trading"] * 5 + [
        "street_vending", "stacked_materials", "exposed_garbage", "exposed_garbage"]
    # detections of street things are dropped before zones and rules, like people's
    from detector.detections import Detections

    d = Detections(xyxy=np.array([[0, 0, 9, 9]] * 3, np.float32), confidence=np.full(3, 0.9, np.float32),
                   class_id=np.array([names.index("car"), names.index("poster"), names.index("trash_bag")]),
                   class_names=names)
    assert shipped.apply(d).data["category"].tolist() == ["exposed_garbage"]


def test_mined_box_is_background_or_relabelled_in_the_written_labels(tmp_path: Path) -> None:
    """The mining decision and what lands on disk: the frame goes in with the teacher's labels only, so a mined
    "trash bag" on a car is a car box, a mined "goods display" on empty paving has no box, a confirmed bicycle
    (the teacher sees it too) is no false positive."""
    from detector.training.dataset import DatasetWriter, classify_mined

    names = class_names(CLASSES_FILE)
    pred = ["trash_bag", "goods_display", "bicycle", "person"]
    pred_xyxy = np.array([[10, 10, 60, 40], [100, 100, 140, 150], [200, 50, 260, 120], [300, 10, 330, 90]], float)
    truth = ["car", "bicycle", "person"]
    truth_xyxy = np.array([[8, 12, 62, 42], [202, 52, 258, 118], [300, 10, 330, 90]], float)
    mined = classify_mined(pred, pred_xyxy, truth, truth_xyxy, lambda n: n not in ("person", "car"))
    assert [(m["predicted"], m["fate"], m["label"]) for m in mined] == [
        ("trash_bag", "relabelled", "car"), ("goods_display", "background", None)]
    # a bicycle the labels lack but the teacher sees weakly is a real bicycle: never mined as background
    weak = (["bicycle"], np.array([[198, 50, 262, 121]], float))
    without_bike = classify_mined(pred, pred_xyxy, ["car"], truth_xyxy[:1], lambda n: n not in ("person", "car"))
    with_weak = classify_mined(pred, pred_xyxy, ["car"], truth_xyxy[:1], lambda n: n not in ("person", "car"),
                               confirm=weak)
    assert [m["predicted"] for m in without_bike] == ["trash_bag", "goods_display", "bicycle"]
    assert [m["predicted"] for m in with_weak] == ["trash_bag", "goods_display"]
    writer = DatasetWriter(tmp_path, 640, names)
    path = writer.add("train", "hardneg", np.zeros((240, 400, 3), np.uint8), truth_xyxy, truth)
    cls, xyxy = read_yolo_labels(tmp_path / "labels" / "train" / (path.stem + ".txt"), 400, 240)
    written = [names[c] for c in cls]
    assert "trash_bag" not in written and "goods_display" not in written
    from detector.training.dataset import box_iou

    for m in mined:
        ious = box_iou(pred_xyxy[m["box"]][None], xyxy)[0]
        if m["fate"] == "background":
            assert ious.max(initial=0) < 0.1  # nothing labelled where the false positive was
        else:
            assert written[int(ious.argmax())] == m["label"] and ious.max() > 0.8


def test_photo_hash_finds_re_encoded_twins_but_not_letterboxed_strangers() -> None:
    from detector.training.dataset import near_duplicates, photo_hash

    rng = np.random.default_rng(0)

    def letterboxed(seed: int) -> np.ndarray:
        img = np.full((640, 640, 3), 255, np.uint8)  # white bars, as in the bag photos
        coarse = np.random.default_rng(seed).integers(0, 255, (10, 16, 3), np.uint8)  # large shapes, like a scene
        img[120:520] = cv2.resize(coarse, (640, 400), interpolation=cv2.INTER_CUBIC)
        return img

    a, b = letterboxed(1), letterboxed(2)
    _, enc = cv2.imencode(".jpg", a, [cv2.IMWRITE_JPEG_QUALITY, 60])
    a_again = cv2.imdecode(enc, cv2.IMREAD_COLOR)
    noisy = np.clip(a_again.astype(int) + rng.integers(-6, 7, a.shape), 0, 255).astype(np.uint8)
    assert near_duplicates([photo_hash(a_again), photo_hash(noisy), photo_hash(b)], [photo_hash(a)]) == {0, 1}


def test_street_garbage_labels_drop_class_0_and_follow_the_model_for_bags(tmp_path: Path) -> None:
    from detector.training.dataset import garbage_boxes, garbage_label_rule

    label = _write(tmp_path / "g.txt", "0 0.5 0.5 1 1\n1 0.25 0.25 0.2 0.2\n1 0.75 0.75 0.2 0.2")
    boxes = garbage_boxes(label, 100, 100)
    np.testing.assert_allclose(boxes, [[15, 15, 35, 35], [65, 65, 85, 85]], atol=1e-4)
    # the current model sees a trash bag on the first box only
    names = garbage_label_rule(boxes, ["trash_bag", "chair"], np.array([[16, 15, 35, 36], [65, 65, 85, 85]], float))
    assert names == ["trash_bag", "litter_pile"]


def test_light_matching_softens_and_tints_a_crisp_paste() -> None:
    from detector.training.composite import match_light

    rng = np.random.default_rng(1)
    frame = cv2.GaussianBlur(rng.integers(0, 255, (200, 200, 3), np.uint8), (9, 9), 0)
    frame[:, :, 2] = np.clip(frame[:, :, 2].astype(int) + 60, 0, 255)  # warm cast
    cut = np.zeros((60, 60, 4), np.uint8)
    cut[:, :, :3] = 128
    cut[::2, :, :3] = 250  # razor-sharp stripes: far sharper than the frame
    cut[:, :, 3] = 255
    out = match_light(cut, frame, 70, 70, rng, grey=False)
    assert cv2.Laplacian(out[:, :, 1], cv2.CV_32F).var() < cv2.Laplacian(cut[:, :, 1], cv2.CV_32F).var() / 2
    assert out[:, :, 2].mean() > out[:, :, 0].mean()


@pytest.mark.shared
def test_teacher_maps_coco_ids_through_its_metadata(shared_dir: Path) -> None:
    from detector.training.teacher import CocoTeacher

    teacher = CocoTeacher(shared_dir / "models" / "yolov8n-coco-int8.onnx")
    names = class_names()
    for coco_name, ours in teacher_map_for(names).items():
        assert names[teacher.to_frontage[teacher.coco_names.index(coco_name)]] == ours
    assert names[teacher.to_frontage[teacher.coco_names.index("car")]] == "car"  # a class since 4.0
    assert teacher.to_frontage[teacher.coco_names.index("airplane")] == -1  # no frontage-n class
    # a real frame: only shared classes come out, boxes inside the frame
    from detector.training.real_frames import decode_frames

    frame = next(decode_frames(shared_dir / "videos" / "pets2009_campus_480x360.avi"))
    cls, xyxy, conf = teacher(frame)
    assert len(cls) > 0 and set(cls.tolist()) <= {names.index(v) for v in teacher_map_for(names).values()}
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


@pytest.mark.shared
def test_builder_writes_teacher_labels_of_a_new_class_on_real_frames(shared_dir: Path, tmp_path: Path) -> None:
    """Under the shipped class list (since 4.0) the teacher's cars in the real parking-lot clip become `car`
    labels (id 14), with the same teacher pass the builder runs."""
    from detector.training.dataset import BuildOptions, build_dataset

    opts = BuildOptions(out=tmp_path / "next", shared=shared_dir, synth=0, bags=0, bags_val=0, garbage=0,
                        teacher_every=60, mine_every=0, composites=0, classes_file=CLASSES_FILE)
    report = build_dataset(opts, progress=lambda m: None)
    names = class_names(CLASSES_FILE)
    found = Counter()
    for label in (tmp_path / "next" / "labels").rglob("teacher_*.txt"):
        found.update(names[int(line.split()[0])] for line in label.read_text().splitlines())
    assert found["car"] > 0 and report.objects["train/teacher"].get("car", 0) > 0
    assert found["person"] > 0  # the shipped classes are still labelled
    data = yaml.safe_load((tmp_path / "next" / "data.yaml").read_text())
    assert data["names"][names.index("car")] == "car" and len(data["names"]) == len(names)
    card = (tmp_path / "next" / "DATASET_CARD.md").read_text()
    assert "| car | ignore |" in card and "car->car" in card


@pytest.mark.shared
def test_mining_real_footage_keeps_every_mined_box_out_of_the_violation_labels(shared_dir: Path, tmp_path: Path) -> None:
    """The shipped model on the PETS campus clip (no violations in it), scanned the way the builder does:
    every frame kept as a hard negative carries no label of the class the model wrongly saw at that spot.
    A low mining threshold makes sure there is something to mine whatever model ships."""
    from detector.training.dataset import (
        MINE_MODEL,
        BuildOptions,
        BuildReport,
        DatasetWriter,
        RealModel,
        box_iou,
        mine_hard_negatives,
    )
    from detector.training.teacher import CocoTeacher

    clip_only = tmp_path / "shared"
    (clip_only / "videos").mkdir(parents=True)
    (clip_only / "videos" / "pets.avi").symlink_to(shared_dir / "videos" / "pets2009_campus_480x360.avi")
    names = class_names(CLASSES_FILE)
    writer = DatasetWriter(tmp_path / "ds", 640, names)
    report = BuildReport(out=str(tmp_path), seed=0, shared=str(clip_only))
    opts = BuildOptions(out=tmp_path / "ds", teacher_every=8, mine_every=5)
    teacher = CocoTeacher(shared_dir / "models" / "yolov8n-coco-int8.onnx", classes=names)
    mined = mine_hard_negatives(writer, report, clip_only, opts, teacher, RealModel(MINE_MODEL, conf=0.05),
                                {"pets.avi": 636}, progress=lambda m: None, max_frames=12)
    stats = report.mined["pets.avi"]
    assert stats["frames_scanned"] == 12 and stats["boxes"] > 0 and len(mined) == stats["frames_kept"] > 0
    assert all(m["index"] % 8 for m in mined)  # never a frame of the teacher pass twice
    # a class the teacher knows (the clips do hold bicycles and chairs) is never taught as background on the
    # teacher's silence alone
    known = set(teacher.mapping.values())
    assert not [m for e in mined for m in e["mined"] if m["fate"] == "background" and m["predicted"] in known]
    for entry, path in zip(mined, writer.lists[("train", "hardneg")], strict=True):
        image = cv2.imread(path)
        label = Path(path.replace("/images/", "/labels/")).with_suffix(".txt")
        cls, xyxy = read_yolo_labels(label, image.shape[1], image.shape[0])
        for m, box in zip(entry["mined"], entry["xyxy_pred"], strict=True):
            same = [i for i, c in enumerate(cls) if names[c] == m["predicted"]]
            assert not same or box_iou(np.array([box]), xyxy[same]).max() < 0.5, m
            if m["fate"] == "relabelled":
                assert m["label"] in {names[c] for c in cls}


def test_grown_head_keeps_the_base_model_and_starts_new_classes_silent(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped model with a head for a longer list (a later model's): its own class scores are unchanged
    on a real-sized input, a new class without a teacher row starts at ~0, and with ../shared a new class the
    COCO teacher knows gets the teacher's row (as car, bus... got theirs when 3.1 grew into 4.0)."""
    import torch

    from detector.training.offline_assets import apply_offline_env
    from detector.training.teacher_init import grow_head
    from tests.conftest import MODELS, SHARED

    apply_offline_env()
    monkeypatch.setitem(TEACHER_MAP, "fire hydrant", "hydrant")  # a class a later list might add
    teacher = SHARED / "models" / "yolov8n-coco-int8.onnx"
    old_names = class_names()
    names = (*old_names, "hydrant", "scaffolding")
    report = grow_head(MODELS / "frontage-n.pt", names, tmp_path / "init.pt", teacher if teacher.exists() else None)
    assert report["from_base"] == list(old_names) and report["classes"] == len(old_names) + 2
    base = torch.load(MODELS / "frontage-n.pt", map_location="cpu", weights_only=False)["model"].float().eval()
    grown = torch.load(tmp_path / "init.pt", map_location="cpu", weights_only=False)["model"].float().eval()
    assert [grown.names[i] for i in sorted(grown.names)] == list(names)
    x = torch.rand(1, 3, 128, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        old, new = base(x)[0], grown(x)[0]  # (1, 4 + nc, anchors)
    torch.testing.assert_close(new[:, :4 + len(old_names)], old, rtol=0, atol=2e-3)  # boxes and the old classes
    fresh = [4 + names.index(n) for n in report["fresh"]]
    assert new[:, fresh].max() < 0.01  # silent until trained
    if teacher.exists():
        assert report["from_teacher"] == {"hydrant": "fire hydrant"} and report["fresh"] == ["scaffolding"]
    else:
        assert report["fresh"] == ["hydrant", "scaffolding"]
    with pytest.raises(ValueError, match="must start with"):
        grow_head(MODELS / "frontage-n.pt", ("car", *names), tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="adds no class"):  # the CLI's defaults (shipped model, shipped list)
        grow_head(MODELS / "frontage-n.pt", old_names, tmp_path / "same.pt")


@pytest.mark.shared
def test_street_garbage_photos_become_labels_val_and_composite_bases(shared_dir: Path, tmp_path: Path) -> None:
    from detector.training.dataset import BuildOptions, build_dataset

    opts = BuildOptions(out=tmp_path / "g", shared=shared_dir, synth=0, bags=0, bags_val=0, garbage=3, garbage_val=2,
                        teacher_every=0, mine_every=0, composites=3, classes_file=CLASSES_FILE)
    report = build_dataset(opts, progress=lambda m: None)
    assert report.images["train"]["garbage"] == 3 and report.images["val"]["garbage"] == 2
    assert report.images["train"]["composite"] + report.images["val"].get("composite", 0) == 3
    garbage_boxes_ = report.objects["train/garbage"]
    assert garbage_boxes_.get("litter_pile", 0) > 0
    # real garbage labels plus the teacher's people, cars...: nothing else
    teacher_classes = set(teacher_map_for(class_names(CLASSES_FILE)).values())
    assert set(garbage_boxes_) <= {"trash_bag", "litter_pile"} | teacher_classes
    assert report.dropped_duplicates["garbage"] >= 0 and report.seconds["total"] > 0


def test_teacher_carried_bag_on_a_real_bin_bag_is_dropped() -> None:
    """A scripted stand-in for the teacher (its real output on a given photo cannot be chosen): on a bag photo
    its "suitcase" on the real bag and its box duplicating the bag go, its person and car elsewhere stay."""
    from detector.training.dataset import _teacher_extra

    names = class_names(CLASSES_FILE)
    ids = [names.index(n) for n in ("suitcase", "person", "car", "handbag")]
    boxes = np.array([[12, 12, 40, 40], [100, 10, 120, 80], [150, 50, 230, 90], [9, 9, 51, 51]], np.float32)

    def scripted_teacher(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.array(ids), boxes, np.full(len(ids), 0.9, np.float32)

    real_bag = np.array([[10, 10, 50, 50]], np.float32)
    xyxy, kept = _teacher_extra(scripted_teacher, np.zeros((100, 240, 3), np.uint8), names, real_bag)
    assert kept == ["person", "car"] and xyxy.shape == (2, 4)
