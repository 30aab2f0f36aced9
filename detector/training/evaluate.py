"""``frontage train evaluate``: mAP50 per class and per source, and recall against the COCO teacher.

Per source = each ``val_<source>.txt`` listed under ``val_sources`` in the dataset's ``data.yaml``
(synthetic val, the real trash-bag valid split, teacher-labelled real frames, composites). On the
teacher source the labels *are* the teacher's boxes, so recall there is "recall against the teacher"
for the shared classes (`teacher_map_for` the dataset's class list).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import cv2
import numpy as np
import yaml

from detector.rules import box_iou
from detector.training.classes import class_names, teacher_map_for
from detector.training.labels import read_yolo_labels
from detector.training.offline_assets import apply_offline_env, install_fonts


def match_recall(gt_cls: np.ndarray, gt_xyxy: np.ndarray, pred_cls: np.ndarray, pred_xyxy: np.ndarray,
                 iou: float = 0.5) -> np.ndarray:
    """Per ground-truth box: was it found (same class, IoU >= ``iou``, each prediction used once)?

    >>> match_recall(np.array([0, 1]), np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float),
    ...              np.array([0]), np.array([[1, 1, 10, 10]], float)).tolist()
    [True, False]
    """
    found = np.zeros(len(gt_cls), bool)
    ious = box_iou(np.asarray(gt_xyxy, np.float32), np.asarray(pred_xyxy, np.float32))
    used = np.zeros(len(pred_cls), bool)
    for g in np.argsort(-ious.max(1) if ious.size else np.zeros(len(gt_cls))):
        if not len(pred_cls):
            break
        cand = np.where((pred_cls == gt_cls[g]) & ~used & (ious[g] >= iou))[0]
        if len(cand):
            best = cand[np.argmax(ious[g, cand])]
            used[best] = found[g] = True
    return found


def _load_model(weights: Path):
    apply_offline_env()
    install_fonts()
    from ultralytics import YOLO

    return YOLO(str(weights), task="detect")


def evaluate(weights: Path, data: Path, imgsz: int = 416, batch: int = 16, device: str = "cpu",
             sources: list[str] | None = None, teacher_conf: float = 0.25) -> dict:
    """Metrics of ``weights`` (.pt or .onnx) on every val source of the dataset at ``data``."""
    data = Path(data)
    cfg = yaml.safe_load(data.read_text())
    root = Path(cfg.get("path") or data.parent)
    val_sources = cfg.get("val_sources") or {"all": cfg["val"]}
    # the dataset's own class list: a dataset of the next class list is evaluated in its class ids
    names = tuple(cfg["names"][i] for i in sorted(cfg["names"])) if isinstance(cfg.get("names"), dict) else class_names()
    model = _load_model(weights)
    result: dict = {"weights": str(weights), "imgsz": imgsz, "sources": {}}
    for source, rel in val_sources.items():
        if sources and source not in sources:
            continue
        list_path = root / rel
        if not list_path.exists() or not list_path.read_text().strip():
            continue
        with tempfile.TemporaryDirectory() as tmp:
            sub = Path(tmp) / "data.yaml"
            sub.write_text(yaml.safe_dump({"path": str(root), "train": str(list_path), "val": str(list_path),
                                           "names": dict(enumerate(names))}))
            metrics = model.val(data=str(sub), imgsz=imgsz, batch=batch, device=device, plots=False,
                                save_json=False, verbose=False, workers=0, project=tmp, name="val",
                                rect=Path(weights).suffix == ".pt")  # an exported model has a fixed square input
        box = metrics.box
        per_class = {names[int(c)]: round(float(box.ap50[i]), 4) for i, c in enumerate(box.ap_class_index)}
        result["sources"][source] = {
            "images": len(list_path.read_text().split()),
            "map50": round(float(box.map50), 4),
            "map50_95": round(float(box.map), 4),
            "per_class_ap50": per_class,
        }
        if source == "teacher":
            result["teacher_recall"] = teacher_recall(model, list_path, imgsz, device, teacher_conf, names)
    return result


def teacher_recall(model, list_path: Path, imgsz: int, device: str, conf: float,
                   names: tuple[str, ...] | None = None) -> dict:
    """Share of the teacher's boxes (shared classes) that the model also finds at ``conf``, IoU >= 0.5."""
    names = names or class_names()
    shared_ids = {names.index(v) for v in teacher_map_for(names).values()}
    found: dict[str, list[bool]] = {}
    for image_path in list_path.read_text().split():
        image = cv2.imread(image_path)
        if image is None:
            continue
        h, w = image.shape[:2]
        label = Path(image_path.replace("/images/", "/labels/")).with_suffix(".txt")
        gt_cls, gt_xyxy = read_yolo_labels(label, w, h)
        keep = np.isin(gt_cls, list(shared_ids))
        gt_cls, gt_xyxy = gt_cls[keep], gt_xyxy[keep]
        if not len(gt_cls):
            continue
        r = model.predict(image, imgsz=imgsz, conf=conf, device=device, verbose=False)[0]
        hits = match_recall(gt_cls, gt_xyxy, r.boxes.cls.cpu().numpy().astype(int), r.boxes.xyxy.cpu().numpy())
        for c, hit in zip(gt_cls, hits, strict=True):
            found.setdefault(names[c], []).append(bool(hit))
    total = [h for v in found.values() for h in v]
    return {
        "conf": conf,
        "boxes": len(total),
        "recall": round(float(np.mean(total)), 4) if total else None,
        "per_class": {k: {"boxes": len(v), "recall": round(float(np.mean(v)), 4)} for k, v in sorted(found.items())},
    }


def format_metrics(metrics: dict) -> str:
    lines = []
    for source, m in metrics.get("sources", {}).items():
        lines.append(f"{source:10s} images={m['images']:4d} mAP50={m['map50']:.3f} mAP50-95={m['map50_95']:.3f}")
        lines.extend(f"    {k:18s} AP50={v:.3f}" for k, v in m["per_class_ap50"].items())
    tr = metrics.get("teacher_recall")
    if tr and tr.get("recall") is not None:
        lines.append(f"recall vs COCO teacher (conf {tr['conf']}): {tr['recall']:.3f} over {tr['boxes']} boxes")
        lines.extend(f"    {k:18s} recall={v['recall']:.3f} ({v['boxes']} boxes)" for k, v in tr["per_class"].items())
    return "\n".join(lines)


def save_metrics(metrics: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, indent=2))
