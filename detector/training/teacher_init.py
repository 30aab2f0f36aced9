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
