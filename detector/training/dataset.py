"""``frontage dataset build``: one YOLO detection dataset from the generator and every real frame in ../shared.

Sources (the file-name prefix of every image says where it came from):

- ``synth``: generated street frames with exact boxes (`detector.synth.random_labeled_frames`); under the
  next class list also the street things (cars, buses, pushchairs, kiosks, posters...) with exact boxes.
- ``bags``: real trash-bag photos (``../shared/datasets/woosong_trashbags``), polygons -> boxes, both
  classes -> ``trash_bag``; their *valid* (+ test) split is kept whole as the real-photo validation source.
- ``garbage``: real street photos of litter and overflowing bins (``../shared/datasets/street_garbage``):
  class 1 ``garbage`` -> ``trash_bag`` where the current model sees a bag there, else ``litter_pile``;
  class 0 dropped; valid + test = val.
- ``teacher``: real video frames (``../shared/videos``) labelled by the COCO teacher for the shared classes.
  The photos above get the teacher's labels too (people, cars... in a bag photo are no background).
- ``hardneg``: more real video frames, each one where the current model (``models/frontage-n.onnx``) puts a
  violation-class box on footage that holds no violation: a *mined false positive*, kept with the teacher's
  labels, so its box is background there or, where the teacher sees a car / person..., that class.
- ``composite``: real bag and litter cut-outs and generated objects pasted onto real frames, real street
  photos and generated streets, at the perspective scale and in the light of the spot they land on.

Val hygiene: video frames split by time (the last 20% of each clip is val, and hard negatives keep a guard
band of frames away from that boundary); a training photo that is a near-duplicate (close 256-bit
difference hash of the trimmed photo, `photo_hash`) of a val photo is dropped.

Layout::

    OUT/images/{train,val}/<source>_<n>.jpg   OUT/labels/{train,val}/<source>_<n>.txt
    OUT/data.yaml   OUT/val_<source>.txt   OUT/train_<source>.txt   OUT/manifest.json   OUT/DATASET_CARD.md
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import yaml

from detector.rules import box_iou as rules_box_iou
from detector.training.classes import CLASSES_FILE, ROOT, class_categories, class_names, teacher_map_for
from detector.training.labels import polygon_to_box, read_polygon_labels, read_yolo_labels, yolo_line

BAG_DIR = Path("datasets") / "woosong_trashbags"
GARBAGE_DIR = Path("datasets") / "street_garbage"
TEACHER_MODEL = Path("models") / "yolov8n-coco-int8.onnx"
#: the model whose false positives are mined (the shipped one)
MINE_MODEL = ROOT / "models" / "frontage-n.onnx"
#: classes pasted onto real frames from the generator (the violation classes the real data lacks)
PASTE_CLASSES = ("goods_display", "table", "chair", "parasol", "a_frame_sign", "stall_cart",
                 "stacked_materials", "trash_bag", "litter_pile", "bicycle", "e_bike")
#: teacher classes that a pile of bin bags can look like: never kept where a real bag / litter box is
_BAG_LOOKALIKES = ("handbag", "backpack", "suitcase")
VAL_SHARE_OF_CLIP = 0.2
WEAK_TEACHER_CONF = 0.1  # teacher boxes this sure only confirm a prediction; labels need `teacher_conf`


@dataclass
class BuildOptions:
    out: Path
    shared: Path | None = None
    synth: int = 800
    seed: int = 0
    bags: int = 450  # real bag photos used for training (of 942)
    bags_val: int | None = None  # photos of their valid split used (None: all 190, the real-photo val source)
    teacher_every: int = 8  # every n-th frame of each real clip is pseudo-labelled (0: none)
    synth_size: tuple[int, int] = (1280, 720)  # the sample clips' size; smaller only for quick tests
    composites: int = 300
    val_fraction: float = 0.15
    image_width: int = 640  # frames are stored at this width: training runs at 320-416 px anyway
    teacher_conf: float = 0.5
    classes_file: Path = CLASSES_FILE  # the class list the labels are written in (a later model's own list: --classes)
    garbage: int | None = None  # street-garbage photos for training (None: all 395)
    garbage_val: int | None = None  # of its valid + test photos (None: all 100)
    mine_every: int = 2  # scan every n-th clip frame with the current model for false positives (0: no mining)
    mine_model: Path = MINE_MODEL
    mine_conf: float = 0.25  # the edge's default model.conf: every box the rules would see
    photo_teacher: bool = True  # teacher labels on the bag and garbage photos too


@dataclass
class BuildReport:
    out: str
    seed: int
    shared: str | None
    classes_file: str = ""
    notes: list[str] = field(default_factory=list)
    images: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> source -> images
    objects: dict[str, dict[str, int]] = field(default_factory=dict)  # split/source -> class -> boxes
    mined: dict[str, dict] = field(default_factory=dict)  # video or photo set -> mining figures
    dropped_duplicates: dict[str, int] = field(default_factory=dict)  # source -> train photos dropped as val twins
    garbage_classes: dict[str, int] = field(default_factory=dict)  # what the `garbage` boxes became
    seconds: dict[str, float] = field(default_factory=dict)  # build time per stage


class DatasetWriter:
    """Writes images + labels and keeps the per-source lists and counts."""

    def __init__(self, out: Path, width: int, names: tuple[str, ...] | None = None) -> None:
        self.out, self.width = out, width
        self.names = tuple(names or class_names())
        self.lists: dict[tuple[str, str], list[str]] = {}
        self.objects: dict[str, Counter[str]] = {}
        self.counters: Counter[tuple[str, str]] = Counter()
        for split in ("train", "val"):
            (out / "images" / split).mkdir(parents=True, exist_ok=True)
            (out / "labels" / split).mkdir(parents=True, exist_ok=True)

    def class_id(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"{name!r} is not in the dataset's class list {self.names}") from None

    def add(self, split: str, source: str, image: np.ndarray, xyxy: np.ndarray, names: Iterable[str]) -> Path:
        names = list(names)
        h, w = image.shape[:2]
        if w > self.width:
            scale = self.width / w
            image = cv2.resize(image, (self.width, round(h * scale)), interpolation=cv2.INTER_AREA)
            xyxy = np.asarray(xyxy, np.float32) * scale
            h, w = image.shape[:2]
        n = self.counters[(split, source)]
        self.counters[(split, source)] += 1
        stem = f"{source}_{n:05d}"
        img_path = self.out / "images" / split / f"{stem}.jpg"
        cv2.imwrite(str(img_path), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        lines = []
        counter = self.objects.setdefault(f"{split}/{source}", Counter())
        for box, name in zip(np.asarray(xyxy).reshape(-1, 4), names, strict=True):
            if box[2] - box[0] < 2 or box[3] - box[1] < 2:
                continue
            lines.append(yolo_line(self.class_id(name), box, w, h))
            counter[name] += 1
        (self.out / "labels" / split / f"{stem}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
        self.lists.setdefault((split, source), []).append(str(img_path.resolve()))
        return img_path


def _split_for(index: int, val_fraction: float) -> str:
    """Deterministic interleaved split: every k-th item goes to val."""
    k = max(2, round(1 / val_fraction)) if val_fraction > 0 else 0
    return "val" if k and index % k == 0 else "train"


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of two (N, 4) / (M, 4) xyxy arrays.

    >>> box_iou(np.array([[0, 0, 10, 10]]), np.array([[5, 0, 15, 10], [20, 20, 30, 30]]))[0].tolist() == [np.float32(1 / 3), 0.0]
    True
    """
    # any box-like input (lists, flat arrays) -> the rules' IoU, the one definition
    return rules_box_iou(np.asarray(a, np.float32).reshape(-1, 4), np.asarray(b, np.float32).reshape(-1, 4))


def _inside_share(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Share of each box of ``a`` that lies inside each box of ``b`` (N, M)."""
    a, b = np.asarray(a, np.float32).reshape(-1, 4), np.asarray(b, np.float32).reshape(-1, 4)
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)), np.float32)
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(br - tl, 0, None), axis=2)
    return inter / (np.prod(a[:, 2:] - a[:, :2], axis=1)[:, None] + 1e-9)


def photo_hash(image: np.ndarray) -> int:
    """256-bit difference hash of a photo with its uniform borders trimmed.

    Trimming matters: many of the bag photos are letterboxed into white bars, and a plain 8x8 average hash
    called two different bag piles twins because the bars dominate it. On the trimmed 16x16 gradient signs,
    the real twins in ../shared sit 4-14 bits apart and the nearest distinct photos 85+ (measured).
    """
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    rows, cols = np.where(grey.std(1) > 4)[0], np.where(grey.std(0) > 4)[0]
    if len(rows) >= 8 and len(cols) >= 8:
        grey = grey[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]
    small = cv2.resize(grey, (17, 16), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def near_duplicates(train_hashes: list[int], val_hashes: list[int], max_bits: int = 32) -> set[int]:
    """Indices of training photos whose `photo_hash` is within ``max_bits`` (of 256) of some val photo's.

    >>> sorted(near_duplicates([0b1111, (1 << 200) - 1], [0b0111]))
    [0]
    """
    out = set()
    for i, h in enumerate(train_hashes):
        if any((h ^ v).bit_count() <= max_bits for v in val_hashes):
            out.add(i)
    return out


# ------------------------------------------------------------------------------------------- sources
def add_synth(writer: DatasetWriter, opts: BuildOptions, progress: Callable[[str], None]) -> None:
    from detector.synth import random_labeled_frames

    frames = random_labeled_frames(opts.synth, seed=opts.seed, size=opts.synth_size, classes=writer.names)
    for i, frame in enumerate(frames):
        writer.add(_split_for(i, opts.val_fraction), "synth", frame.image, frame.xyxy, frame.class_names)
        if (i + 1) % 100 == 0:
            progress(f"synth {i + 1}/{opts.synth}")


def bag_boxes(label_path: Path, width: int, height: int) -> np.ndarray:
    """Polygon labels of one bag photo -> pixel boxes (both bag classes become ``trash_bag``)."""
    boxes = []
    for _, coords in read_polygon_labels(label_path):
        if len(coords) < 6:
            continue
        x0, y0, x1, y1 = polygon_to_box(coords)
        boxes.append((x0 * width, y0 * height, x1 * width, y1 * height))
    return np.array(boxes, np.float32).reshape(-1, 4)


def garbage_boxes(label_path: Path, width: int, height: int) -> np.ndarray:
    """Box labels of one street-garbage photo -> pixel boxes of class 1 ``garbage`` (class 0 ``Images`` dropped)."""
    cls, xyxy = read_yolo_labels(label_path, width, height)
    return xyxy[cls == 1].reshape(-1, 4)


class RealModel:
    """The current shipped model on real frames, for mining false positives and telling bags from litter."""

    def __init__(self, path: Path, conf: float) -> None:
        from detector.classmap import ClassMap, classes_file_for
        from detector.inference import ModelConfig, load_backend

        self.backend = load_backend(ModelConfig(path=str(path), conf=conf, threads=2))
        cmap = ClassMap.load(classes_file_for(path))
        self.categories = {n: cmap.category_of(n) for n in self.backend.class_names}

    def __call__(self, image: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(class names, xyxy, confidence) of every box at the mining threshold."""
        d = self.backend.infer([image])[0]
        return [d.class_names[c] for c in d.class_id], d.xyxy.reshape(-1, 4), d.confidence

    def is_violation(self, name: str) -> bool:
        return self.categories.get(name, "ignore") != "ignore"


def classify_mined(pred_names: list[str], pred_xyxy: np.ndarray, truth_names: list[str], truth_xyxy: np.ndarray,
                   is_violation: Callable[[str], bool], same_iou: float = 0.5, other_iou: float = 0.3,
                   confirm: tuple[list[str], np.ndarray] | None = None, confirm_iou: float = 0.3) -> list[dict]:
    """What each violation-class prediction on footage with no violations is.

    ``truth`` = the labels the frame goes in with (the teacher's). A prediction that a truth box of its own
    class confirms (IoU >= ``same_iou``: the GIF's bicycle, a COCO chair), or one of the ``confirm`` boxes
    (the teacher at a low threshold) of its class (IoU >= ``confirm_iou``), is no false positive and is
    skipped; one that overlaps a truth box of another class (IoU >= ``other_iou``) is *relabelled*: that box
    teaches its true class (a "trash bag" that is the teacher's car); the rest are *background*: no box there.

    >>> out = classify_mined(["trash_bag", "bicycle", "goods_display"],
    ...                      np.array([[0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60]], float),
    ...                      ["car", "bicycle"], np.array([[0, 0, 11, 10], [20, 20, 30, 31]], float),
    ...                      lambda n: n != "person")
    >>> [(m["predicted"], m["fate"], m["label"]) for m in out]
    [('trash_bag', 'relabelled', 'car'), ('goods_display', 'background', None)]
    """
    ious = box_iou(pred_xyxy, truth_xyxy)
    weak_names, weak_xyxy = confirm if confirm is not None else ([], np.zeros((0, 4)))
    weak_ious = box_iou(pred_xyxy, weak_xyxy)
    out = []
    for i, name in enumerate(pred_names):
        if not is_violation(name):
            continue
        same = [j for j, t in enumerate(truth_names) if t == name]
        if same and ious[i, same].max() >= same_iou:
            continue
        weak_same = [j for j, t in enumerate(weak_names) if t == name]
        if weak_same and weak_ious[i, weak_same].max() >= confirm_iou:
            continue
        other = [j for j, t in enumerate(truth_names) if t != name]
        best = max(other, key=lambda j: ious[i, j], default=None)
        if best is not None and ious[i, best] >= other_iou:
            out.append({"predicted": name, "fate": "relabelled", "label": truth_names[best], "box": i})
        else:
            out.append({"predicted": name, "fate": "background", "label": None, "box": i})
    return out


def _teacher_extra(teacher, image: np.ndarray, names: tuple[str, ...], truth_xyxy: np.ndarray,
                   ) -> tuple[np.ndarray, list[str]]:
    """Teacher boxes to add to a photo with real bag / litter boxes: not the bags themselves, and no carried-bag
    class on top of a real bag (the teacher calls a bin bag a handbag or suitcase now and then)."""
    cls, xyxy, _ = teacher(image)
    keep = []
    inside = _inside_share(xyxy, truth_xyxy)
    ious = box_iou(xyxy, truth_xyxy)
    for k, c in enumerate(cls):
        name = names[c]
        if len(truth_xyxy) and (ious[k].max() >= 0.3 or (name in _BAG_LOOKALIKES and inside[k].max() >= 0.3)):
            continue
        keep.append(k)
    return xyxy[keep].reshape(-1, 4), [names[cls[k]] for k in keep]


def _photo_lists(root: Path, splits: tuple[str, ...], limit: int | None, rng: np.random.Generator) -> list[tuple[Path, Path]]:
    images: list[Path] = []
    for split in splits:
        images += sorted((root / split / "images").glob("*.jpg"))
    if limit is not None and limit < len(images):
        images = sorted(rng.choice(images, size=limit, replace=False).tolist())
    return [(Path(i), Path(i).parent.parent / "labels" / (Path(i).stem + ".txt")) for i in images]


def add_photo_set(writer: DatasetWriter, report: BuildReport, source: str, root: Path,
                  train_splits: tuple[str, ...], val_splits: tuple[str, ...], limits: tuple[int | None, int | None],
                  boxes_of: Callable[[Path, int, int], np.ndarray], label_of: Callable[[np.ndarray, np.ndarray, np.ndarray], list[str]],
                  teacher, model: RealModel | None, seed: int) -> list[dict]:
    """One real photo set: val first (whole), then train without val near-duplicates; teacher labels added,
    the current model's violation boxes in bag-free parts counted as mined (they are background there).
    Returns the training photos (for composites and cut-outs)."""
    rng = np.random.default_rng(seed)
    names = writer.names
    val_hashes: list[int] = []
    train_out: list[dict] = []
    mined = Counter()
    dropped = 0
    for split, splits, limit in (("val", val_splits, limits[1]), ("train", train_splits, limits[0])):
        for img_path, label_path in _photo_lists(root, splits, limit, rng):
            image = cv2.imread(str(img_path))
            if image is None:
                continue
            h, w = image.shape[:2]
            digest = photo_hash(image)
            if split == "val":
                val_hashes.append(digest)
            elif near_duplicates([digest], val_hashes):
                dropped += 1
                continue
            boxes = boxes_of(label_path, w, h) if label_path.exists() else np.zeros((0, 4), np.float32)
            preds = model(image) if model is not None else None
            labels = label_of(boxes, *(preds[:2] if preds else ([], np.zeros((0, 4)))))
            xyxy, all_names = boxes, list(labels)
            if teacher is not None:
                extra_xyxy, extra_names = _teacher_extra(teacher, image, names, boxes)
                xyxy, all_names = np.concatenate([boxes, extra_xyxy]), all_names + extra_names
            if split == "train" and preds is not None:
                off_bag = bag_free(preds[1], boxes, (h, w))
                for m in classify_mined([preds[0][i] for i in off_bag], preds[1][off_bag], all_names, xyxy,
                                        model.is_violation):
                    mined[f"{m['predicted']}->{m['label'] or 'background'}"] += 1
            writer.add(split, source, image, xyxy, all_names)
            if split == "train":  # all labels for a composite's base; the real ones alone for cut-outs
                train_out.append({"image": image, "xyxy": xyxy, "names": all_names, "real_xyxy": boxes,
                                  "real_names": labels, "split": "train"})
    report.dropped_duplicates[source] = dropped
    if model is not None:
        # counted, not called false positives: a look at a sample showed most of them on real bags and litter
        # that the photo set's labels leave out (its labels are incomplete), so they stay as the set has them
        report.mined[f"unlabelled:{source}"] = {
            "boxes": sum(mined.values()), "kept_as": dict(sorted(mined.items())),
            "note": "current model's violation boxes outside every real box of a training photo; mostly "
                    "unlabelled real bags/litter (checked by eye), so not used as hard negatives"}
    return train_out


def bag_free(pred_xyxy: np.ndarray, real_xyxy: np.ndarray, shape: tuple[int, int]) -> list[int]:
    """Indices of predicted boxes in the bag-free part of a photo: under 10% of the box covered by the union of
    the real bag / litter boxes, and no real box half inside it (a box around a labelled pile is the pile).

    >>> bag_free(np.array([[0, 0, 10, 10], [40, 40, 60, 60], [0, 0, 30, 30]], float),
    ...          np.array([[0, 0, 10, 10], [12, 12, 25, 25]], float), (64, 64))
    [1]
    """
    h, w = shape
    covered = np.zeros((h, w), bool)
    for x0, y0, x1, y1 in np.asarray(real_xyxy).reshape(-1, 4).round().astype(int):
        covered[max(0, y0):max(0, y1), max(0, x0):max(0, x1)] = True
    inside = _inside_share(real_xyxy, pred_xyxy)  # (real, pred)
    out = []
    for i, (x0, y0, x1, y1) in enumerate(np.asarray(pred_xyxy).reshape(-1, 4).round().astype(int)):
        patch = covered[max(0, y0):max(0, y1), max(0, x0):max(0, x1)]
        if patch.size and patch.mean() >= 0.1:
            continue
        if len(inside) and inside[:, i].max() >= 0.5:
            continue
        out.append(i)
    return out


def garbage_label_rule(boxes: np.ndarray, pred_names: list[str], pred_xyxy: np.ndarray) -> list[str]:
    """``garbage`` -> ``trash_bag`` where the current model sees a trash bag on the same spot (IoU >= 0.5),
    else ``litter_pile`` (strewn litter, heaps, overflowing bins). Both are exposed garbage to the rules, so
    a wrong pick costs a class-level AP point, never a missed case.

    >>> garbage_label_rule(np.array([[0, 0, 10, 10], [20, 20, 40, 40]], float), ["trash_bag"], np.array([[1, 0, 10, 10]], float))
    ['trash_bag', 'litter_pile']
    """
    bag_boxes_ = np.array([b for n, b in zip(pred_names, np.asarray(pred_xyxy).reshape(-1, 4), strict=True)
                           if n == "trash_bag"], np.float32).reshape(-1, 4)
    ious = box_iou(boxes, bag_boxes_)
    return ["trash_bag" if len(bag_boxes_) and ious[i].max() >= 0.5 else "litter_pile" for i in range(len(boxes))]


def teacher_frames(shared: Path, opts: BuildOptions, progress: Callable[[str], None],
                   names: tuple[str, ...] | None = None, teacher=None) -> list[dict]:
    """Pseudo-labelled real frames: [{video, index, split, image, xyxy, names}]; the last 20% of each clip is val."""
    from detector.training.real_frames import sample_frames, video_files
    from detector.training.teacher import CocoTeacher

    names = tuple(names or class_names())
    teacher = teacher or CocoTeacher(shared / TEACHER_MODEL, conf=opts.teacher_conf, classes=names)
    out = []
    for video in video_files(shared):
        try:
            # the GIF has only 41 frames: sample it 4x more densely than the long clips
            frames = sample_frames(video, opts.teacher_every if video.suffix != ".gif" else max(1, opts.teacher_every // 4))
        except ValueError as exc:
            progress(f"skipped {video.name}: {exc}")
            continue
        cut = int(len(frames) * (1 - VAL_SHARE_OF_CLIP))
        for j, (index, image) in enumerate(frames):
            cls, xyxy, _ = teacher(image)
            out.append({"video": video.name, "index": index, "split": "train" if j < cut else "val",
                        "image": image, "xyxy": xyxy, "names": [names[c] for c in cls]})
        progress(f"teacher {video.name}: {len(frames)} frames")
    return out


def mine_hard_negatives(writer: DatasetWriter, report: BuildReport, shared: Path, opts: BuildOptions,
                        teacher, model: RealModel, val_starts: dict[str, int], progress: Callable[[str], None],
                        max_frames: int | None = None) -> list[dict]:
    """Every ``mine_every``-th clip frame that the teacher pass did not take, run through the current model:
    a frame with a mined false positive (`classify_mined`) goes in as ``hardneg`` with the teacher's labels.

    ``val_starts``: first val frame index per clip (from the teacher pass); frames within ``teacher_every``
    before it are skipped, so no near-identical neighbour sits on the other side of the split. A frame where a
    prediction may be a real object the labels miss (the teacher sees it weakly, or it is of a class the
    teacher knows — the clips do hold bicycles) is left out rather than teach that object as background.
    """
    from detector.training.real_frames import decode_frames, video_files
    from detector.training.teacher import CocoTeacher

    names = writer.names
    # one teacher pass at a low threshold: its boxes >= teacher_conf are the labels (as in the teacher frames),
    # the weaker ones only confirm: a bicycle the teacher sees at 0.3 is a real bicycle, not a false positive
    weak_teacher = CocoTeacher(teacher.model_path, conf=WEAK_TEACHER_CONF, classes=names)
    teacher_classes = set(weak_teacher.mapping.values())
    out = []
    guard = max(opts.teacher_every, 8)
    for video in video_files(shared):
        stats = {"frames_scanned": 0, "frames_kept": 0, "frames_ambiguous": 0, "boxes": 0, "by_class": Counter(),
                 "kept_as": Counter()}
        every = max(1, opts.mine_every)
        teacher_every = opts.teacher_every if video.suffix != ".gif" else max(1, opts.teacher_every // 4)
        if video.suffix == ".gif":  # 41 frames: scan it densely, as the teacher pass does
            every = max(1, every // 4)
        try:
            frames = decode_frames(video)
            for index, image in enumerate(frames):
                if index % every or (teacher_every and index % teacher_every == 0):
                    continue
                if max_frames is not None and stats["frames_scanned"] >= max_frames:
                    break
                start = val_starts.get(video.name)
                if start is None:  # no teacher pass: split by position alone
                    split = "train"
                elif index >= start:
                    split = "val"
                elif index >= start - guard:
                    continue
                else:
                    split = "train"
                stats["frames_scanned"] += 1
                pred_names, pred_xyxy, _ = model(image)
                if not any(model.is_violation(n) for n in pred_names):
                    continue
                cls, xyxy, conf = weak_teacher(image)
                strong = conf >= opts.teacher_conf
                truth, xyxy_truth = [names[c] for c in cls[strong]], xyxy[strong].reshape(-1, 4)
                weak = ([names[c] for c in cls], xyxy)
                mined = classify_mined(pred_names, pred_xyxy, truth, xyxy_truth, model.is_violation, confirm=weak)
                confirmed_weakly = classify_mined(pred_names, pred_xyxy, truth, xyxy_truth, model.is_violation)
                unprovable = [m for m in mined if m["fate"] == "background" and m["predicted"] in teacher_classes]
                if len(confirmed_weakly) > len(mined) or unprovable:
                    # a real object the labels would miss: seen by the teacher only weakly, or of a class the
                    # teacher knows but missed (the GIF's ridden bicycle at frame 19: the teacher sees nothing
                    # there even at 0.1). The clips hold no goods or bags, but they do hold bicycles and chairs,
                    # so "no teacher box" proves nothing for those: the frame would teach a real object as
                    # background, and is left out
                    stats["frames_ambiguous"] += 1
                    continue
                if not mined:
                    continue
                xyxy = xyxy_truth
                stats["frames_kept"] += 1
                stats["boxes"] += len(mined)
                for m in mined:
                    stats["by_class"][m["predicted"]] += 1
                    stats["kept_as"][m["label"] or "background"] += 1
                writer.add(split, "hardneg", image, xyxy, truth)
                out.append({"video": video.name, "index": index, "split": split, "mined": mined,
                            "xyxy_pred": pred_xyxy[[m["box"] for m in mined]].tolist()})
        except ValueError as exc:
            progress(f"skipped {video.name}: {exc}")
        report.mined[video.name] = {k: dict(sorted(v.items())) if isinstance(v, Counter) else v for k, v in stats.items()}
        progress(f"hard negatives {video.name}: {stats['boxes']} boxes in {stats['frames_kept']}/{stats['frames_scanned']} frames")
    return out


def add_composites(writer: DatasetWriter, opts: BuildOptions, real: list[dict], bag_dir: Path | None,
                   progress: Callable[[str], None], photos: list[dict] | None = None) -> None:
    """A third on real clip frames, a third on real street photos (when there are any), the rest on generated
    streets (distinct seeds). Objects: real bag and litter cut-outs, generated violation classes, and under a
    class list with street things, generated street things at their real size."""
    from detector.synth import random_labeled_frames, render_object
    from detector.synth.objects import SIZES, STREET_THINGS
    from detector.training.composite import Cutout, bag_cutouts, box_cutouts, composite

    rng = np.random.default_rng(opts.seed + 23)
    bags = bag_cutouts(bag_dir / "train", ["trash_bag"], rng, 400) if bag_dir else []
    photos = photos or []
    litter: list[Cutout] = []  # real litter heaps and bag piles of the street photos, under their own labels
    for ph in photos[:200]:
        for box, name in zip(np.asarray(ph["real_xyxy"]).reshape(-1, 4), ph["real_names"], strict=True):
            litter += box_cutouts(ph["image"], box[None], name)
    real_train = [r for r in real if r["split"] == "train"]
    things = [n for n in STREET_THINGS if n in writer.names]
    n_real = opts.composites // 3 if real_train else 0
    n_photo = opts.composites // 3 if photos else 0
    synth_iter = random_labeled_frames(opts.composites - n_real - n_photo, seed=opts.seed + 100_003,
                                       size=opts.synth_size, classes=writer.names)

    def objects(k: int) -> list[Cutout]:
        cuts = []
        for _ in range(k):
            r = rng.random()
            if bags and r < 0.25:
                cuts.append(bags[int(rng.integers(len(bags)))])
            elif litter and r < 0.35:
                cuts.append(litter[int(rng.integers(len(litter)))])
            elif things and r < 0.6:
                name = str(rng.choice(things))
                (h0, h1), _ = SIZES[name]
                cuts.append(Cutout(render_object(name, rng, int(rng.integers(80, 240))), name,
                                   height_m=float(rng.uniform(h0, h1))))
            else:
                name = str(rng.choice(PASTE_CLASSES))
                cuts.append(Cutout(render_object(name, rng, int(rng.integers(80, 240))), name))
        return cuts

    for i in range(opts.composites):
        if i < n_real:
            base = real_train[int(rng.integers(len(real_train)))]
            image, xyxy, names = base["image"], base["xyxy"], base["names"]
        elif i < n_real + n_photo:
            base = photos[int(rng.integers(len(photos)))]
            image, xyxy, names = base["image"], base["xyxy"], base["names"]
        else:
            frame = next(synth_iter)
            image, xyxy, names = frame.image, frame.xyxy, frame.class_names
        img, boxes, labels = composite(image, xyxy, names, objects(int(rng.integers(2, 7))), rng)
        writer.add(_split_for(i, opts.val_fraction), "composite", img, boxes, labels)
        if (i + 1) % 100 == 0:
            progress(f"composite {i + 1}/{opts.composites}")


def build_dataset(opts: BuildOptions, progress: Callable[[str], None] = print) -> BuildReport:
    t_start = time.monotonic()
    out = Path(opts.out)
    if out.exists():
        shutil.rmtree(out)  # a rebuild replaces the whole dataset: stale images would break determinism
    names = class_names(Path(opts.classes_file))
    writer = DatasetWriter(out, opts.image_width, names)
    shared = Path(opts.shared) if opts.shared else None
    report = BuildReport(out=str(out.resolve()), seed=opts.seed, shared=str(shared) if shared else None,
                         classes_file=str(opts.classes_file))
    if shared is not None and not (shared / "README.md").exists():
        report.notes.append(f"{shared} not found: built the synthetic part alone")
        progress(report.notes[-1])
        shared = None
    elif shared is None:
        report.notes.append("no --shared given: built the synthetic part alone")
        progress(report.notes[-1])

    def lap(stage: str, t0: float) -> None:
        report.seconds[stage] = round(time.monotonic() - t0, 1)

    t0 = time.monotonic()
    add_synth(writer, opts, progress)
    lap("synth", t0)
    teacher = None
    if shared is not None and (shared / TEACHER_MODEL).exists():
        from detector.training.teacher import CocoTeacher

        teacher = CocoTeacher(shared / TEACHER_MODEL, conf=opts.teacher_conf, classes=names)
    elif shared is not None:
        report.notes.append(f"{shared / TEACHER_MODEL} missing: no teacher-labelled frames")
    model = None  # the current model: mines hard negatives and tells the street-garbage bags from litter
    wants_model = bool(opts.mine_every) or opts.garbage != 0
    if shared is not None and wants_model and Path(opts.mine_model).exists():
        model = RealModel(Path(opts.mine_model), opts.mine_conf)
    elif shared is not None and wants_model:
        report.notes.append(f"{opts.mine_model} missing: no hard negatives mined, all street garbage -> litter_pile")
    photo_teacher = teacher if opts.photo_teacher else None

    bag_dir = shared / BAG_DIR if shared else None
    t0 = time.monotonic()
    if bag_dir is not None and bag_dir.is_dir():
        add_photo_set(writer, report, "bags", bag_dir, ("train",), ("valid", "test"), (opts.bags, opts.bags_val),
                      bag_boxes, lambda b, pn, px: ["trash_bag"] * len(b), photo_teacher, model, opts.seed + 11)
        progress("bags done")
    elif shared is not None:
        report.notes.append(f"{bag_dir} missing: no real trash-bag photos")
    lap("bags", t0)
    garbage_dir = shared / GARBAGE_DIR if shared else None
    photos: list[dict] = []
    t0 = time.monotonic()
    if garbage_dir is not None and garbage_dir.is_dir() and (opts.garbage is None or opts.garbage > 0):
        photos = add_photo_set(writer, report, "garbage", garbage_dir, ("train",), ("valid", "test"),
                               (opts.garbage, opts.garbage_val), garbage_boxes, garbage_label_rule,
                               photo_teacher, model, opts.seed + 13)
        for split_key, counts in writer.objects.items():
            if split_key.endswith("/garbage"):
                for n in ("trash_bag", "litter_pile"):
                    report.garbage_classes[f"{split_key.split('/')[0]}/{n}"] = counts.get(n, 0)
        progress(f"street garbage done ({len(photos)} train photos)")
    elif shared is not None and opts.garbage != 0:
        report.notes.append(f"{garbage_dir} missing: no real street-garbage photos")
    lap("garbage", t0)

    real: list[dict] = []
    t0 = time.monotonic()
    val_starts: dict[str, int] = {}
    if shared is not None and opts.teacher_every == 0:
        report.notes.append("--teacher-every 0: no teacher-labelled frames")
    elif teacher is not None:
        real = teacher_frames(shared, opts, progress, names, teacher)
        for r in real:
            writer.add(r["split"], "teacher", r["image"], r["xyxy"], r["names"])
            if r["split"] == "val":
                val_starts[r["video"]] = min(val_starts.get(r["video"], r["index"]), r["index"])
    lap("teacher", t0)
    t0 = time.monotonic()
    if model is not None and teacher is not None and opts.mine_every:
        mined = mine_hard_negatives(writer, report, shared, opts, teacher, model, val_starts, progress)
        (out / "hard_negatives.json").write_text(json.dumps(mined, indent=1))
    lap("hard_negatives", t0)
    t0 = time.monotonic()
    if opts.composites:
        add_composites(writer, opts, real, bag_dir if bag_dir is not None and bag_dir.is_dir() else None, progress,
                       photos)
    lap("composite", t0)

    for (split, source), paths in writer.lists.items():
        (out / f"{split}_{source}.txt").write_text("\n".join(paths) + "\n")
        report.images.setdefault(split, {})[source] = len(paths)
    report.objects = {k: dict(sorted(v.items())) for k, v in sorted(writer.objects.items())}
    report.seconds["total"] = round(time.monotonic() - t_start, 1)
    data = {
        "path": str(out.resolve()),
        "train": "images/train",
        "val": "images/val",
        "names": dict(enumerate(names)),
        # not read by ultralytics: which val list belongs to which source (see `frontage train evaluate`)
        "val_sources": {s: f"val_{s}.txt" for (sp, s) in writer.lists if sp == "val"},
        "classes_file": str(opts.classes_file),
    }
    (out / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    (out / "manifest.json").write_text(json.dumps({"options": {k: str(v) for k, v in asdict(opts).items()},
                                                   **asdict(report)}, indent=2))
    (out / "DATASET_CARD.md").write_text(dataset_card(report, opts))
    return report


def dataset_card(report: BuildReport, opts: BuildOptions) -> str:
    names = class_names(Path(opts.classes_file))
    cats = class_categories(Path(opts.classes_file))
    try:
        classes_rel = Path(opts.classes_file).resolve().relative_to(ROOT)
    except ValueError:
        classes_rel = Path(opts.classes_file)
    lines = [
        "# Frontage detection dataset",
        "",
        f"Built by `frontage dataset build` (seed {opts.seed}, synth {opts.synth}, bags {opts.bags}, "
        f"garbage {'all' if opts.garbage is None else opts.garbage}, teacher every {opts.teacher_every}th frame, "
        f"hard negatives from every {opts.mine_every}th frame, composites {opts.composites}); class list "
        f"({len(names)} classes) from `{classes_rel}`. Images stored at most {opts.image_width} px wide. "
        f"Built in {report.seconds.get('total', 0):.0f} s.",
        "",
    ]
    lines += [f"> {n}" for n in report.notes] + ([""] if report.notes else [])
    lines += ["## Images per source", "", "| source | train | val |", "|---|---:|---:|"]
    sources = sorted({s for split in report.images.values() for s in split})
    for s in sources:
        lines.append(f"| {s} | {report.images.get('train', {}).get(s, 0)} | {report.images.get('val', {}).get(s, 0)} |")
    keys = sorted(report.objects)
    lines += ["", "## Boxes per class and source", "", "| class | category | " + " | ".join(keys) + " |",
              "|---|---|" + "---:|" * len(keys)]
    for n in names:
        lines.append(f"| {n} | {cats.get(n, '?')} | " + " | ".join(str(report.objects[k].get(n, 0)) for k in keys) + " |")
    if report.mined:
        lines += ["", "## Mined false positives of the current model", "",
                  "Clips: hard negatives kept (`hardneg`). `unlabelled:` rows: the current model's violation boxes "
                  "outside every real box of a training photo, counted only: a sample showed mostly real bags and "
                  "litter the photo sets leave unlabelled.", "",
                  "| footage | frames scanned | frames kept | left out (unlabelled real object) | boxes | predicted as | kept as |",
                  "|---|---:|---:|---:|---:|---|---|"]
        for where, m in report.mined.items():
            if "frames_scanned" in m:
                lines.append(f"| {where} | {m['frames_scanned']} | {m['frames_kept']} | {m['frames_ambiguous']} | {m['boxes']} | "
                             f"{', '.join(f'{k} {v}' for k, v in m['by_class'].items())} | "
                             f"{', '.join(f'{k} {v}' for k, v in m['kept_as'].items())} |")
            else:
                lines.append(f"| {where} | | | | {m['boxes']} | | {', '.join(f'{k} {v}' for k, v in m['kept_as'].items())} |")
    if report.dropped_duplicates:
        lines += ["", "Training photos dropped as near-duplicates of a val photo: "
                  + ", ".join(f"{k} {v}" for k, v in report.dropped_duplicates.items()) + "."]
    teacher_pairs = ", ".join(f"{k}->{v}" for k, v in teacher_map_for(names).items())
    lines += [
        "",
        "## Sources and licences",
        "",
        "- `synth`: Frontage's own scene generator (`detector/synth`), exact boxes.",
        "- `bags`: Woosong trash-bag segmentation dataset (Roboflow, CC BY 4.0), polygons -> boxes, "
        "`general_trashbag` + `other_trashbag` -> `trash_bag`; val = its clean `valid` + `test` splits.",
        "- `garbage`: Roboflow \"Garbage Detection v1\" street photos (CC BY 4.0; many are Google Street View "
        "captures), class 1 `garbage` -> `trash_bag` where the shipped frontage-n sees a bag on the same spot, else "
        "`litter_pile`; class 0 dropped; val = `valid` + `test`.",
        "- `teacher`: frames of the clips in `../shared/videos` (PETS 2009 research terms; Intel sample videos "
        "CC BY 4.0; overhead plaza: internal testing only) labelled by the Ultralytics YOLOv8n COCO teacher "
        f"(AGPL-3.0) at confidence >= {opts.teacher_conf} for {teacher_pairs}. Last 20% of each clip = val. "
        "The photo sets carry the same teacher labels (except on top of a real bag).",
        "- `hardneg`: clip frames where the shipped frontage-n (conf >= "
        f"{opts.mine_conf}) puts a violation-class box on footage that holds none; teacher labels (the mined box "
        "is background or, under a teacher box, that box's class). `hard_negatives.json` lists every mined box.",
        "- `composite`: real bag and litter cut-outs and generated objects pasted onto real frames, real street "
        "photos and generated streets (perspective and real-size scale, local light, blur and noise, soft shadow).",
        "",
        "Evaluate per source with `frontage train evaluate --data data.yaml` (reads `val_sources`).",
    ]
    return "\n".join(lines) + "\n"
