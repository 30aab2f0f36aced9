"""A scripted re-learning round, measured: false positives -> export -> fine-tune -> fewer false positives.

1. Frames the shipped model has never trained on: real clip frames between the ones in the dataset
   (labels: the COCO teacher's shared classes; the clips show no violations, so any violation-class box
   there is false) and fresh generated frames (exact labels).
2. A *false positive* = a box of a violation class (class map category != ignore) at ``conf`` that overlaps
   no labelled box of that class (IoU < 0.3). Frames with one are what an operator would reject.
3. Half of those frames (alternating) are "rejected cases": exported as hard negatives with corrected
   labels (`relearn.write_relearn_dataset`, with a replay sample of the base dataset); the other half are
   held out, to see whether the fix generalises beyond the exact frames.
4. Fine-tune from the model; count the false positives again on both halves; val mAP50 before/after.

    python -m detector.training.relearn_round --model models/frontage-n.pt --data datasets/frontage/data.yaml \
        --shared ../shared --out runs/relearn_round
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from detector.rules import box_iou
from detector.training.classes import class_names
from detector.training.relearn import RelearnSample, _class_categories, write_relearn_dataset


def violation_ids() -> set[int]:
    cats = _class_categories()
    return {i for i, n in enumerate(class_names()) if cats[n] != "ignore"}


def false_positives(pred_cls: np.ndarray, pred_xyxy: np.ndarray, gt_cls: np.ndarray, gt_xyxy: np.ndarray,
                    iou: float = 0.3) -> list[int]:
    """Indices of predicted violation-class boxes that match no labelled box of their class.

    >>> false_positives(np.array([10, 10]), np.array([[0, 0, 10, 10], [50, 50, 60, 60]], float),
    ...                 np.array([10]), np.array([[0, 0, 10, 10]], float))
    [1]
    """
    vio = violation_ids()
    ious = box_iou(np.asarray(pred_xyxy, np.float32), np.asarray(gt_xyxy, np.float32))
    out = []
    for i, c in enumerate(pred_cls):
        if int(c) not in vio:
            continue
        same = gt_cls == c
        if not same.any() or ious[i, same].max() < iou:
            out.append(i)
    return out


def candidate_frames(shared: Path | None, synth: int, seed: int, teacher_every: int = 8) -> list[dict]:
    """Frames not in the training set, with labels: real clip frames at offset every/2, fresh synth frames."""
    from detector.synth import random_labeled_frames

    names = class_names()
    frames = []
    if shared is not None and (shared / "models" / "yolov8n-coco-int8.onnx").exists():
        from detector.training.real_frames import decode_frames, video_files
        from detector.training.teacher import CocoTeacher

        teacher = CocoTeacher(shared / "models" / "yolov8n-coco-int8.onnx")
        for video in video_files(shared):
            every = teacher_every if video.suffix != ".gif" else 2
            for i, image in enumerate(decode_frames(video)):
                if i % every != every // 2:
                    continue
                cls, xyxy, _ = teacher(image)
                frames.append({"origin": f"{video.name}#{i}", "image": image, "cls": cls, "xyxy": xyxy})
    for i, f in enumerate(random_labeled_frames(synth, seed=seed)):
        cls = np.array([names.index(n) for n in f.class_names], np.int64)
        frames.append({"origin": f"synth-seed{seed}#{i}", "image": f.image, "cls": cls, "xyxy": f.xyxy})
    return frames


def count_fps(weights: Path, frames: list[dict], imgsz: int, conf: float) -> list[list[int]]:
    from ultralytics import YOLO

    model = YOLO(str(weights), task="detect")
    out = []
    for f in frames:
        r = model.predict(f["image"], imgsz=imgsz, conf=conf, verbose=False, device="cpu")[0]
        pc, px = r.boxes.cls.cpu().numpy().astype(np.int64), r.boxes.xyxy.cpu().numpy()
        out.append([int(pc[i]) for i in false_positives(pc, px, f["cls"], f["xyxy"])])
    return out


def run_round(model: Path, data: Path, out: Path, shared: Path | None, imgsz: int = 320, conf: float = 0.35,
              synth: int = 60, seed: int = 4242, epochs: int = 3, replay: int = 200, repeat: int = 3,
              lr0: float = 0.0002, freeze: int = 0, log=print) -> dict:
    from detector.training.evaluate import evaluate
    from detector.training.offline_assets import apply_offline_env, install_fonts
    from detector.training.train import TrainOptions, train

    apply_offline_env()
    install_fonts()
    t0 = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = class_names()
    frames = candidate_frames(shared, synth, seed)
    before = count_fps(model, frames, imgsz, conf)
    fp_idx = [i for i, f in enumerate(before) if f]
    exported, held_out = fp_idx[0::2], fp_idx[1::2]
    log(f"{len(frames)} candidate frames, {len(fp_idx)} with false positives "
        f"({sum(len(before[i]) for i in fp_idx)} boxes): {len(exported)} exported, {len(held_out)} held out")
    if not exported:
        raise ValueError("the model makes no false positives on the candidate frames: nothing to re-learn")
    samples = [RelearnSample(frames[i]["image"], frames[i]["xyxy"], [names[c] for c in frames[i]["cls"]],
                             "negative", {"origin": frames[i]["origin"]}) for i in exported]
    relearn_yaml = write_relearn_dataset(samples, out / "dataset", base_data=data, replay=replay, seed=seed,
                                         repeat=repeat)
    val_before = evaluate(model, data, imgsz=imgsz, sources=["synth"])
    run = train(TrainOptions(data=relearn_yaml, from_weights=model, epochs=epochs, imgsz=imgsz, batch=16,
                             device="cpu", project=out / "runs", name="finetune", workers=0, val=False,
                             cache=False, close_mosaic=epochs,
                             extra={"optimizer": "AdamW", "lr0": lr0, "warmup_epochs": 0, "mosaic": 0.0,
                                    # a frozen backbone keeps what the base model learnt (val mAP) while the
                                    # neck and head learn the hard negatives
                                    **({"freeze": freeze} if freeze else {})}))
    new_weights = run / "weights" / "last.pt"
    after = count_fps(new_weights, frames, imgsz, conf)
    val_after = evaluate(new_weights, data, imgsz=imgsz, sources=["synth"])

    def total(counts: list[list[int]], idx: list[int]) -> int:
        return sum(len(counts[i]) for i in idx)

    others = [i for i in range(len(frames)) if i not in set(fp_idx)]
    result = {
        "model": str(model), "new_weights": str(new_weights), "conf": conf, "imgsz": imgsz,
        "candidate_frames": len(frames), "fp_frames": len(fp_idx),
        "exported": {"frames": len(exported), "fp_before": total(before, exported), "fp_after": total(after, exported)},
        "held_out": {"frames": len(held_out), "fp_before": total(before, held_out), "fp_after": total(after, held_out)},
        "clean_frames_new_fps": total(after, others),
        "val_synth_map50_before": val_before["sources"]["synth"]["map50"],
        "val_synth_map50_after": val_after["sources"]["synth"]["map50"],
        "fine_tune": {"epochs": epochs, "replay": replay, "repeat": repeat, "lr0": lr0, "freeze": freeze},
        "seconds": round(time.time() - t0, 1),
    }
    e = result["exported"]
    result["exported"]["removed_fraction"] = round(1 - e["fp_after"] / e["fp_before"], 3) if e["fp_before"] else None
    h = result["held_out"]
    result["held_out"]["removed_fraction"] = round(1 - h["fp_after"] / h["fp_before"], 3) if h["fp_before"] else None
    result["val_map50_drop_points"] = round(100 * (result["val_synth_map50_before"] - result["val_synth_map50_after"]), 2)
    result["passed"] = bool((e["removed_fraction"] or 0) >= 0.8 and result["val_map50_drop_points"] <= 2.0)
    (out / "result.json").write_text(json.dumps(result, indent=2))
    log(json.dumps(result, indent=2))
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=Path("models/frontage-n.pt"))
    p.add_argument("--data", type=Path, default=Path("datasets/frontage/data.yaml"))
    p.add_argument("--shared", type=Path, default=None)
    p.add_argument("--out", type=Path, default=Path("runs/relearn_round"))
    p.add_argument("--imgsz", type=int, default=None, help="default: the model's own input size")
    p.add_argument("--conf", type=float, default=0.35)
    p.add_argument("--synth", type=int, default=60)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--replay", type=int, default=200)
    p.add_argument("--repeat", type=int, default=3, help="times each exported frame appears per epoch")
    p.add_argument("--lr0", type=float, default=0.0002)
    p.add_argument("--freeze", type=int, default=0, help="freeze the first N layers (10: the YOLOv8 backbone)")
    args = p.parse_args(argv)
    for path in (args.model, args.data):
        if not path.exists():
            print(f"error: not found: {path}", file=sys.stderr)
            return 2
    try:
        from detector.training.train import trained_imgsz

        result = run_round(args.model, args.data, args.out, args.shared, imgsz=args.imgsz or trained_imgsz(args.model),
                           conf=args.conf,
                           synth=args.synth, epochs=args.epochs, replay=args.replay, repeat=args.repeat,
                           lr0=args.lr0, freeze=args.freeze)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
