"""A stand-in for the shipped model until ``models/frontage-n.{pt,onnx}`` exists.

Same architecture as frontage-n (ultralytics ``yolo11n.yaml``, the project's 15 classes), random weights:
its speed is the shipped nano model's speed; its detections are meaningless (benchmarks never look at them).
Written into the git-ignored ``var/bench/`` and exported to ONNX with a dynamic batch by the project's own
exporter (``detector.training.export.export_onnx``).
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STANDIN_DIR = ROOT / "var" / "bench" / "model"
SHIPPED_PT = ROOT / "models" / "frontage-n.pt"
SHIPPED_ONNX = ROOT / "models" / "frontage-n.onnx"


def shipped_model() -> tuple[Path, Path] | None:
    """(pt, onnx) of the shipped model when both exist."""
    return (SHIPPED_PT, SHIPPED_ONNX) if SHIPPED_PT.exists() and SHIPPED_ONNX.exists() else None


def build_standin(imgsz: int = 416) -> tuple[Path, Path]:
    """Build (once) var/bench/model/frontage-n-standin.{pt,onnx}; returns their paths."""
    from detector.training.offline_assets import apply_offline_env

    apply_offline_env()
    pt = STANDIN_DIR / "frontage-n.pt"  # same stem as the shipped one: the exporter checks the class list only
    onnx_path = pt.with_suffix(".onnx")
    if pt.exists() and onnx_path.exists():
        return pt, onnx_path
    STANDIN_DIR.mkdir(parents=True, exist_ok=True)
    import torch
    from ultralytics.nn.tasks import DetectionModel

    from detector.training.classes import class_names
    from detector.training.export import export_onnx

    names = list(class_names())
    torch.manual_seed(0)
    model = DetectionModel("yolo11n.yaml", nc=len(names), verbose=False)
    model.names = dict(enumerate(names))
    model.args = {"imgsz": imgsz, "task": "detect"}
    # The checkpoint layout ultralytics' own trainer writes (what YOLO(path) expects).
    torch.save({"model": model.half(), "train_args": {"imgsz": imgsz, "task": "detect"}, "epoch": -1,
                "date": "standin", "version": "standin"}, pt)
    export_onnx(pt, imgsz=imgsz)
    return pt, onnx_path


if __name__ == "__main__":
    print(build_standin())
