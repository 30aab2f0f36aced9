"""``frontage dataset build``: one YOLO detection dataset from four sources, deterministic for a seed.

Sources (the file-name prefix of every image says where it came from):

- ``synth``: generated street frames with exact boxes (`detector.synth.random_labeled_frames`).
- ``bags``: real trash-bag photos (``../shared/datasets/woosong_trashbags``), polygons -> boxes, both
  classes -> ``trash_bag``; their *valid* split is kept whole as the real-photo validation source.
- ``teacher``: real video frames (``../shared/videos``) labelled by the COCO teacher for the shared classes.
- ``composite``: real bag cut-outs and generated objects pasted onto real frames and generated streets.

Layout::

    OUT/images/{train,val}/<source>_<n>.jpg   OUT/labels/{train,val}/<source>_<n>.txt
    OUT/data.yaml   OUT/val_<source>.txt   OUT/train_<source>.txt   OUT/manifest.json   OUT/DATASET_CARD.md
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import yaml

from detector.training.classes import CLASSES_FILE, TEACHER_MAP, class_id, class_names
from detector.training.labels import polygon_to_box, read_polygon_labels, yolo_line

BAG_DIR = Path("datasets") / "woosong_trashbags"
TEACHER_MODEL = Path("models") / "yolov8n-coco-int8.onnx"
#: classes pasted onto real frames from the generator (the violation classes the real data lacks)
PASTE_CLASSES = ("goods_display", "table", "chair", "parasol", "a_frame_sign", "stall_cart",
                 "stacked_materials", "trash_bag", "litter_pile", "bicycle", "e_bike")


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


@dataclass
class BuildReport:
    out: str
    seed: int
    shared: str | None
    notes: list[str] = field(default_factory=list)
    images: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> source -> images
    objects: dict[str, dict[str, int]] = field(default_factory=dict)  # split/source -> class -> boxes


class DatasetWriter:
    """Writes images + labels and keeps the per-source lists and counts."""

    def __init__(self, out: Path, width: int) -> None:
        self.out, self.width = out, width
        self.lists: dict[tuple[str, str], list[str]] = {}
        self.objects: dict[str, Counter[str]] = {}
        self.counters: Counter[tuple[str, str]] = Counter()
        for split in ("train", "val"):
            (out / "images" / split).mkdir(parents=True, exist_ok=True)
            (out / "labels" / split).mkdir(parents=True, exist_ok=True)

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
            lines.append(yolo_line(class_id(name), box, w, h))
            counter[name] += 1
        (self.out / "labels" / split / f"{stem}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
        self.lists.setdefault((split, source), []).append(str(img_path.resolve()))
        return img_path


def _split_for(index: int, val_fraction: float) -> str:
    """Deterministic interleaved split: every k-th item goes to val."""
    k = max(2, round(1 / val_fraction)) if val_fraction > 0 else 0
    return "val" if k and index % k == 0 else "train"


def add_synth(writer: DatasetWriter, opts: BuildOptions, progress: Callable[[str], None]) -> None:
    from detector.synth import random_labeled_frames

    for i, frame in enumerate(random_labeled_frames(opts.synth, seed=opts.seed, size=opts.synth_size)):
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


def add_bags(writer: DatasetWriter, bag_dir: Path, opts: BuildOptions) -> None:
    rng = np.random.default_rng(opts.seed + 11)
    for split_dir, split, limit in (("train", "train", opts.bags), ("valid", "val", opts.bags_val)):
        images = sorted((bag_dir / split_dir / "images").glob("*.jpg"))
        if limit is not None and limit < len(images):
            images = sorted(rng.choice(images, size=limit, replace=False).tolist())
        for img_path in images:
            image = cv2.imread(str(img_path))
            if image is None:
                continue
            boxes = bag_boxes(bag_dir / split_dir / "labels" / (Path(img_path).stem + ".txt"), image.shape[1], image.shape[0])
            writer.add(split, "bags", image, boxes, ["trash_bag"] * len(boxes))


def teacher_frames(shared: Path, opts: BuildOptions, progress: Callable[[str], None]) -> list[dict]:
    """Pseudo-labelled real frames: [{video, index, split, image, xyxy, names}]; the last 20% of each clip is val."""
    from detector.training.real_frames import sample_frames, video_files
    from detector.training.teacher import CocoTeacher

    teacher = CocoTeacher(shared / TEACHER_MODEL, conf=opts.teacher_conf)
    names = class_names()
    out = []
    for video in video_files(shared):
        try:
            # the GIF has only 41 frames: sample it 4x more densely than the long clips
            frames = sample_frames(video, opts.teacher_every if video.suffix != ".gif" else max(1, opts.teacher_every // 4))
        except ValueError as exc:
            progress(f"skipped {video.name}: {exc}")
            continue
        cut = int(len(frames) * 0.8)
        for j, (index, image) in enumerate(frames):
            cls, xyxy, _ = teacher(image)
            out.append({"video": video.name, "index": index, "split": "train" if j < cut else "val",
                        "image": image, "xyxy": xyxy, "names": [names[c] for c in cls]})
        progress(f"teacher {video.name}: {len(frames)} frames")
    return out


def add_composites(writer: DatasetWriter, opts: BuildOptions, real: list[dict], bag_dir: Path | None,
                   progress: Callable[[str], None]) -> None:
    """Half on real train frames (when there are any), half on generated streets (distinct seeds)."""
    from detector.synth import random_labeled_frames, render_object
    from detector.training.composite import Cutout, bag_cutouts, composite

    rng = np.random.default_rng(opts.seed + 23)
    bags = bag_cutouts(bag_dir / "train", ["trash_bag"], rng, 400) if bag_dir else []
    real_train = [r for r in real if r["split"] == "train"]
    n_real = opts.composites // 2 if real_train else 0
    synth_iter = random_labeled_frames(opts.composites - n_real, seed=opts.seed + 100_003, size=opts.synth_size)

    def objects(k: int) -> list[Cutout]:
        cuts = []
        for _ in range(k):
            if bags and rng.random() < 0.35:
                cuts.append(bags[int(rng.integers(len(bags)))])
            else:
                name = str(rng.choice(PASTE_CLASSES))
                cuts.append(Cutout(render_object(name, rng, int(rng.integers(80, 240))), name))
        return cuts

    for i in range(opts.composites):
        if i < n_real:
            base = real_train[int(rng.integers(len(real_train)))]
            image, xyxy, names = base["image"], base["xyxy"], base["names"]
        else:
            frame = next(synth_iter)
            image, xyxy, names = frame.image, frame.xyxy, frame.class_names
        img, boxes, labels = composite(image, xyxy, names, objects(int(rng.integers(2, 7))), rng)
        writer.add(_split_for(i, opts.val_fraction), "composite", img, boxes, labels)
        if (i + 1) % 100 == 0:
            progress(f"composite {i + 1}/{opts.composites}")


def build_dataset(opts: BuildOptions, progress: Callable[[str], None] = print) -> BuildReport:
    out = Path(opts.out)
    if out.exists():
        shutil.rmtree(out)  # a rebuild replaces the whole dataset: stale images would break determinism
    writer = DatasetWriter(out, opts.image_width)
    shared = Path(opts.shared) if opts.shared else None
    report = BuildReport(out=str(out.resolve()), seed=opts.seed, shared=str(shared) if shared else None)
    if shared is not None and not (shared / "README.md").exists():
        report.notes.append(f"{shared} not found: built the synthetic part alone")
        progress(report.notes[-1])
        shared = None
    elif shared is None:
        report.notes.append("no --shared given: built the synthetic part alone")
        progress(report.notes[-1])

    add_synth(writer, opts, progress)
    bag_dir = shared / BAG_DIR if shared else None
    real: list[dict] = []
    if bag_dir is not None and bag_dir.is_dir():
        add_bags(writer, bag_dir, opts)
        progress("bags done")
    elif shared is not None:
        report.notes.append(f"{bag_dir} missing: no real trash-bag photos")
    if shared is not None and opts.teacher_every == 0:
        report.notes.append("--teacher-every 0: no teacher-labelled frames")
    elif shared is not None and (shared / TEACHER_MODEL).exists():
        real = teacher_frames(shared, opts, progress)
        for r in real:
            writer.add(r["split"], "teacher", r["image"], r["xyxy"], r["names"])
    elif shared is not None:
        report.notes.append(f"{shared / TEACHER_MODEL} missing: no teacher-labelled frames")
    if opts.composites:
        add_composites(writer, opts, real, bag_dir if bag_dir is not None and bag_dir.is_dir() else None, progress)

    for (split, source), paths in writer.lists.items():
        (out / f"{split}_{source}.txt").write_text("\n".join(paths) + "\n")
        report.images.setdefault(split, {})[source] = len(paths)
    report.objects = {k: dict(sorted(v.items())) for k, v in sorted(writer.objects.items())}
    names = class_names()
    data = {
        "path": str(out.resolve()),
        "train": "images/train",
        "val": "images/val",
        "names": dict(enumerate(names)),
        # not read by ultralytics: which val list belongs to which source (see `frontage train evaluate`)
        "val_sources": {s: f"val_{s}.txt" for (sp, s) in writer.lists if sp == "val"},
        "classes_file": str(CLASSES_FILE),
    }
    (out / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    (out / "manifest.json").write_text(json.dumps({"options": {k: str(v) for k, v in asdict(opts).items()},
                                                   **asdict(report)}, indent=2))
    (out / "DATASET_CARD.md").write_text(dataset_card(report, opts))
    return report


def dataset_card(report: BuildReport, opts: BuildOptions) -> str:
    names = class_names()
    lines = [
        "# Frontage detection dataset",
        "",
        f"Built by `frontage dataset build` (seed {opts.seed}, synth {opts.synth}, bags {opts.bags}, "
        f"teacher every {opts.teacher_every}th frame, composites {opts.composites}); class list from "
        f"`models/frontage-n.classes.yaml`. Images stored at most {opts.image_width} px wide.",
        "",
    ]
    lines += [f"> {n}" for n in report.notes] + ([""] if report.notes else [])
    lines += ["## Images per source", "", "| source | train | val |", "|---|---:|---:|"]
    sources = sorted({s for split in report.images.values() for s in split})
    for s in sources:
        lines.append(f"| {s} | {report.images.get('train', {}).get(s, 0)} | {report.images.get('val', {}).get(s, 0)} |")
    keys = sorted(report.objects)
    lines += ["", "## Boxes per class and source", "", "| class | " + " | ".join(keys) + " |",
              "|---|" + "---:|" * len(keys)]
    for n in names:
        lines.append(f"| {n} | " + " | ".join(str(report.objects[k].get(n, 0)) for k in keys) + " |")
    lines += [
        "",
        "## Sources and licences",
        "",
        "- `synth`: Frontage's own scene generator (`detector/synth`), exact boxes.",
        "- `bags`: Woosong trash-bag segmentation dataset (Roboflow, CC BY 4.0), polygons -> boxes, "
        "`general_trashbag` + `other_trashbag` -> `trash_bag`; val = its clean `valid` split.",
        "- `teacher`: frames of the clips in `../shared/videos` (PETS 2009 research terms; Intel sample videos "
        "CC BY 4.0; overhead plaza: internal testing only) labelled by the Ultralytics YOLOv8n COCO teacher "
        f"(AGPL-3.0) at confidence >= {opts.teacher_conf} for {', '.join(f'{k}->{v}' for k, v in TEACHER_MAP.items())}. "
        "Last 20% of each clip = val.",
        "- `composite`: real bag cut-outs and generated objects pasted onto real frames and generated streets "
        "(perspective scale, soft shadow).",
        "",
        "Evaluate per source with `frontage train evaluate --data data.yaml` (reads `val_sources`).",
    ]
    return "\n".join(lines) + "\n"
