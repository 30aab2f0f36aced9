"""``frontage train export``: ONNX with a dynamic batch and size, checked with ONNX Runtime, registered.

The ONNX keeps ultralytics' metadata (``names``, ``imgsz``, ``stride``) and gains ``frontage_version``, so
an edge box can tell which registered model it runs without the registry file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from detector.training import registry
from detector.training.classes import CLASSES_FILE, class_names
from detector.training.offline_assets import apply_offline_env, install_fonts

#: ONNX Runtime here runs opset <= 21 for every op YOLO uses; 17 is the widely supported choice.
DEFAULT_OPSET = 17


def strip_checkpoint(weights: Path, dest: Path, imgsz: int | None = None, version: str | None = None) -> None:
    """Copy a checkpoint without its optimizer state (fp16 weights: ~5 MB instead of ~16 MB), stamped with the
    size it is meant to run at and its registry version (the ultralytics backend reads both)."""
    apply_offline_env()
    from ultralytics.utils.torch_utils import strip_optimizer

    from detector.training.train import OPERATING_IMGSZ_KEY

    shutil.copyfile(weights, dest)
    updates = {k: v for k, v in ((OPERATING_IMGSZ_KEY, imgsz), ("frontage_version", version)) if v is not None}
    strip_optimizer(str(dest), updates=updates or None)


def export_onnx(weights: Path, imgsz: int = 416, opset: int = DEFAULT_OPSET, classes_file: Path = CLASSES_FILE) -> Path:
    """Export ``weights`` next to itself as ``.onnx`` (dynamic batch and size), return its path."""
    apply_offline_env()
    install_fonts()
    from ultralytics import YOLO

    model = YOLO(str(weights), task="detect")
    names = [model.names[i] for i in sorted(model.names)]
    if tuple(names) != class_names(classes_file):
        raise ValueError(f"{weights} has classes {names}, but {classes_file} lists {list(class_names(classes_file))}")
    out = model.export(format="onnx", imgsz=imgsz, dynamic=True, opset=opset, simplify=True, device="cpu")
    return Path(out)


def stamp_version(onnx_path: Path, version: str, imgsz: int | None = None) -> None:
    """Add ``frontage_version`` metadata; with ``imgsz``, fix the input's height and width (batch stays dynamic).

    Fixed H x W tells every runtime the size the model was trained at (the edge backend reads it from the
    input shape); only the batch dimension is left free for batching cameras.
    """
    import onnx

    model = onnx.load(str(onnx_path))
    if imgsz is not None:
        dims = model.graph.input[0].type.tensor_type.shape.dim
        for d in (dims[2], dims[3]):
            d.ClearField("dim_param")
            d.dim_value = imgsz
    props = {p.key: p for p in model.metadata_props}
    for key, value in (("frontage_version", version), ("frontage_model", "frontage-n")):
        if key in props:
            props[key].value = value
        else:
            model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(onnx_path))


def check_onnx(onnx_path: Path, imgsz: int, frame: np.ndarray | None = None, classes_file: Path = CLASSES_FILE) -> dict:
    """Run the ONNX with ONNX Runtime on a frame at batch 1 and 2; returns shapes and the top score."""
    import onnxruntime as ort

    from detector.training.teacher import letterbox

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    inp = session.get_inputs()[0]
    if frame is None:
        from detector.synth import random_labeled_frames

        frame = next(random_labeled_frames(1, seed=12345)).image
    canvas, _, _ = letterbox(frame, imgsz)
    blob = (canvas[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255.0).copy()
    out1 = session.run(None, {inp.name: blob})[0]
    out2 = session.run(None, {inp.name: np.concatenate([blob, blob])})[0]
    nc = len(class_names(classes_file))
    if out1.shape[1] != 4 + nc:
        raise ValueError(f"{onnx_path}: output has {out1.shape[1]} rows, expected {4 + nc} (4 box + {nc} classes)")
    if out2.shape[0] != 2 or not np.allclose(out2[0], out1[0], atol=1e-3):
        raise ValueError(f"{onnx_path}: batch of 2 does not reproduce batch of 1")
    meta = session.get_modelmeta().custom_metadata_map
    return {"input": list(inp.shape), "output_batch1": list(out1.shape), "output_batch2": list(out2.shape),
            "top_score": round(float(out1[0, 4:].max()), 4), "metadata_version": meta.get("frontage_version")}


def export_and_register(weights: Path, imgsz: int = 416, dest: Path | None = None, version: str | None = None,
                        metrics: dict | None = None, data: str | None = None, recipe: str | None = None,
                        parent: str | None = None, registry_path: Path = registry.REGISTRY,
                        bump: str = "minor", classes_file: Path = CLASSES_FILE) -> dict:
    """Export, check, optionally copy to ``dest`` (``models/frontage-n.onnx`` + ``.pt``), and register."""
    onnx_path = export_onnx(weights, imgsz, classes_file=classes_file)
    version = version or registry.next_version(bump=bump, path=registry_path)
    # height and width stay dynamic: the edge letterboxes 16:9 cameras into 320x192, not 320x320 (1.67x fewer
    # pixels); the trained size travels as ultralytics' `imgsz` metadata, which the backend defaults to
    stamp_version(onnx_path, version)
    check = check_onnx(onnx_path, imgsz, classes_file=classes_file)
    pt_path = Path(weights)
    if dest is not None:
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        pt_dest = dest.with_suffix(".pt")
        # write beside, then rename: an edge box that reloads on file change never reads half a model
        tmp_pt = pt_dest.with_name(pt_dest.name + ".tmp")
        strip_checkpoint(Path(weights), tmp_pt, imgsz=imgsz, version=version)
        os.replace(tmp_pt, pt_dest)
        tmp_onnx = dest.with_name(dest.name + ".tmp")
        shutil.copyfile(onnx_path, tmp_onnx)
        os.replace(tmp_onnx, dest)
        if onnx_path.resolve() != dest.resolve():
            onnx_path.unlink()  # the export beside the weights is a by-product: models/ must not keep a stray copy
        onnx_path, pt_path = dest, pt_dest
    rel = str(onnx_path.resolve().relative_to(registry.ROOT)) if onnx_path.resolve().is_relative_to(registry.ROOT) else str(onnx_path)
    entry = {
        "name": "frontage-n",
        "version": version,
        "onnx": rel,
        "onnx_sha256": registry.sha256_of(onnx_path),
        "onnx_bytes": onnx_path.stat().st_size,
        "pt_sha256": registry.sha256_of(pt_path),
        "pt_bytes": pt_path.stat().st_size,
        "imgsz": imgsz,
        "classes": list(class_names(classes_file)),
        "parent": parent,
        "data": data,
        "recipe": recipe,
        "onnx_check": check,
        "metrics": metrics or {},
    }
    return registry.register(entry, registry_path)
