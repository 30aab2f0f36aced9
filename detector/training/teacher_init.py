"""Start frontage-n from the COCO teacher's weights instead of from random ones.

``../shared/models/yolov8n-coco-int8.onnx`` is a dynamically quantised ONNX: every conv weight is stored
as uint8 with one scale and zero point (``W = (q - zp) * scale``), and the batch-norms were folded into the
conv biases at export. Both are reversible enough to *initialise* a float PyTorch YOLOv8n: dequantise each
weight, put the bias into a batch-norm that starts as identity. Fine-tuning then repairs the quantisation
error. On a shared 2-core CPU this head start (COCO features for people, bicycles, chairs, tables,
umbrellas, benches...) is worth far more than the few epochs a from-scratch model gets.

The initial weights are Ultralytics' (AGPL-3.0), so the trained model is a derivative: AGPL-3.0 as well
(the project's own licence). ``frontage train --init-from-teacher ../shared/models/yolov8n-coco-int8.onnx``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

from detector.training.offline_assets import apply_offline_env


def _initializers(onnx_path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    meta = {p.key: p.value for p in model.metadata_props}
    return inits, meta


def teacher_checkpoint(onnx_path: Path, out: Path, model_yaml: str = "yolov8n.yaml") -> Path:
    """Write an ultralytics checkpoint (``.pt``) holding the teacher's dequantised float weights."""
    apply_offline_env()
    import torch
    from ultralytics.nn.tasks import DetectionModel

    onnx_path = Path(onnx_path)
    if not onnx_path.exists():
        raise FileNotFoundError(f"teacher model not found: {onnx_path}")
    inits, meta = _initializers(onnx_path)
    names = ast.literal_eval(meta.get("names", "{}"))
    model = DetectionModel(model_yaml, nc=len(names) or 80, verbose=False)
    state = model.state_dict()
    new: dict[str, torch.Tensor] = {}
    prefixes = sorted(k[: -len(".weight_quantized")] for k in inits if k.endswith(".weight_quantized"))
    for p in prefixes:
        q = inits[f"{p}.weight_quantized"].astype(np.float32)
        w = (q - inits[f"{p}.weight_zero_point"].astype(np.float32)) * inits[f"{p}.weight_scale"].astype(np.float32)
        bias = inits.get(f"{p}.bias")
        if f"{p}.weight" not in state or tuple(state[f"{p}.weight"].shape) != w.shape:
            raise ValueError(f"{onnx_path}: layer {p} {w.shape} does not fit {model_yaml}")
        new[f"{p}.weight"] = torch.from_numpy(w)
        bn = p[: -len(".conv")] + ".bn" if p.endswith(".conv") else None
        if bn and f"{bn}.weight" in state:  # folded batch-norm -> identity batch-norm carrying the bias
            eps = dict(model.named_modules())[bn].eps
            c = w.shape[0]
            new[f"{bn}.weight"] = torch.ones(c)
            new[f"{bn}.bias"] = torch.from_numpy(np.array(bias if bias is not None else np.zeros(c), np.float32))
            new[f"{bn}.running_mean"] = torch.zeros(c)
            new[f"{bn}.running_var"] = torch.full((c,), 1.0 - eps)
        elif bias is not None:
            new[f"{p}.bias"] = torch.from_numpy(np.array(bias, np.float32))
    missing = [k for k in state if k not in new and not k.endswith("num_batches_tracked")]
    if len(missing) > 0 and any("dfl" not in k for k in missing):
        raise ValueError(f"{onnx_path}: no weights for {missing[:5]}")
    model.load_state_dict(new, strict=False)
    model.names = {int(k): v for k, v in names.items()}
    model.args = {"task": "detect", "imgsz": 640}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.float(), "train_args": {"task": "detect"}, "date": None,
                "version": "teacher-init", "license": "AGPL-3.0 (Ultralytics YOLOv8n COCO)"}, out)
    return out


def _teacher_class_rows(onnx_path: Path) -> tuple[list[str], list[tuple[np.ndarray, np.ndarray]]]:
    """The teacher's COCO names and, per detection level, its class conv (weight (80, C, 1, 1), bias (80,))."""
    inits, meta = _initializers(Path(onnx_path))
    names = ast.literal_eval(meta.get("names", "{}"))
    rows = []
    for level in range(3):
        p = f"model.22.cv3.{level}.2"
        q = inits[f"{p}.weight_quantized"].astype(np.float32)
        w = (q - inits[f"{p}.weight_zero_point"].astype(np.float32)) * inits[f"{p}.weight_scale"].astype(np.float32)
        rows.append((w, np.asarray(inits[f"{p}.bias"], np.float32)))
    return [names[i] for i in sorted(names)], rows


def grow_head(base: Path, class_list: tuple[str, ...], out: Path, teacher_onnx: Path | None = None) -> dict:
    """A checkpoint of ``base`` (e.g. frontage-n 3.1) with a classification head for ``class_list``.

    ``class_list`` must start with the base model's classes in the base's order (their ids do not move). Every
    weight of the base carries over, including its class rows; a new class the COCO teacher knows
    (`TEACHER_MAP`, e.g. car <- COCO car) gets the teacher's row of the last class conv, the other new classes
    start silent (zero weights, ultralytics' prior bias log(5 / nc / cells)). Why the teacher's rows fit: frontage-n was
    initialised from this teacher (same YOLOv8n head layout, 80 channels into the class conv), so its class
    features still resemble the teacher's and a COCO row scores the same thing from the first step on.
    Returns what came from where.
    """
    apply_offline_env()
    import torch
    from ultralytics.nn.tasks import DetectionModel

    from detector.training.classes import TEACHER_MAP

    ckpt = torch.load(str(base), map_location="cpu", weights_only=False)
    old = (ckpt.get("ema") or ckpt["model"]).float()
    old_names = [old.names[i] for i in sorted(old.names)]
    class_list = tuple(class_list)
    if list(class_list[: len(old_names)]) != old_names:
        raise ValueError(f"the new class list must start with {base}'s classes in their order {old_names}, "
                         f"got {list(class_list[: len(old_names)])}")
    if len(class_list) == len(old_names):  # e.g. the shipped list again: a "grown" head would be the same head
        raise ValueError(f"the new class list adds no class to {base}'s {len(old_names)}: give a longer list (--classes)")
    new = DetectionModel(dict(old.yaml), nc=len(class_list), verbose=False)
    new.load(old, verbose=False)  # every tensor of the same shape: all but the three class convs
    coco_names, teacher_rows = _teacher_class_rows(teacher_onnx) if teacher_onnx else ([], [])
    coco_for = {ours: coco for coco, ours in TEACHER_MAP.items()}
    report: dict = {"base": str(base), "classes": len(class_list), "from_base": old_names, "from_teacher": {},
                    "fresh": []}
    n_old = len(old_names)
    with torch.no_grad():
        for level, (new_seq, old_seq) in enumerate(zip(new.model[-1].cv3, old.model[-1].cv3, strict=True)):
            conv, old_conv = new_seq[-1], old_seq[-1]
            conv.weight[:n_old] = old_conv.weight
            conv.bias[:n_old] = old_conv.bias
            for j, name in enumerate(class_list[n_old:], n_old):
                coco = coco_for.get(name)
                if coco is None or coco not in coco_names:
                    # zero weights + the prior bias: silent at the start. Ultralytics' random row, on 3.1's
                    # large trained features, scored "poster" 0.65 on every cell of a parking lot
                    conv.weight[j] = 0.0
                    if level == 0:
                        report["fresh"].append(name)
                    continue
                w, b = teacher_rows[level]
                k = coco_names.index(coco)
                if w.shape[1:] != tuple(conv.weight.shape[1:]):
                    raise ValueError(f"{teacher_onnx}: class conv {w.shape} does not fit {tuple(conv.weight.shape)}")
                conv.weight[j] = torch.from_numpy(w[k])
                conv.bias[j] = float(b[k])
                report["from_teacher"][name] = coco
    new.names = dict(enumerate(class_list))
    new.args = dict(getattr(old, "args", {}) or {})
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": new.half(), "ema": None, "train_args": ckpt.get("train_args") or {"task": "detect"},
                "date": None, "version": "grown-head", "license": ckpt.get("license", "AGPL-3.0"),
                "frontage_imgsz": ckpt.get("frontage_imgsz"),
                "frontage_grown_from": ckpt.get("frontage_version")}, out)
    report["out"] = str(out)
    return report
