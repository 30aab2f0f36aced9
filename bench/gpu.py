"""GPU: the batched engine on CUDA (``--device cuda:0``): batch 1-64, fp32 and fp16, TensorRT when present.

Same frames and model as the ``inference`` benchmark; the baseline is the naive ``YOLO(pt).predict`` loop on
the same GPU. Without a CUDA device the benchmark reports "not run: no GPU on this machine".
"""

from __future__ import annotations

from typing import Any

from bench.common import BenchError, Context, Row

GPU_BATCH_SIZES = (1, 4, 8, 16, 32, 64)


def cuda_available(device: str) -> tuple[bool, str]:
    if not device.startswith("cuda"):
        return False, "no GPU on this machine" if not _torch_cuda() else "pass --device cuda:0 to run it"
    if not _torch_cuda():
        return False, "no GPU on this machine"
    return True, ""


def _torch_cuda() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:
        return False


def tensorrt_engine(pt: Any, imgsz: int, batch: int, log: Any) -> Any:
    """Export a TensorRT engine with ultralytics (fp16, dynamic batch up to ``batch``) if tensorrt imports."""
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return None
    import shutil

    from ultralytics import YOLO

    from bench.common import ROOT

    work = ROOT / "var" / "bench" / "model" / "tensorrt"  # ultralytics writes beside the .pt: a copy, not models/
    copy = work / pt.name
    engine = copy.with_suffix(".engine")
    if not engine.exists() or engine.stat().st_mtime < pt.stat().st_mtime:
        log("gpu: exporting a TensorRT engine")
        work.mkdir(parents=True, exist_ok=True)
        shutil.copy2(pt, copy)
        try:
            YOLO(str(copy), task="detect").export(format="engine", imgsz=imgsz, half=True, dynamic=True, batch=batch,
                                                device=0)
        except Exception as exc:
            log(f"gpu: TensorRT export failed: {str(exc).splitlines()[0] if str(exc) else exc}")
            return None
    return engine


def run(ctx: Context) -> tuple[list[Row], dict[str, Any]]:
    ok, why = cuda_available(ctx.device)
    if not ok:
        raise BenchError(why)
    from bench import inference

    sizes = (1, 8, 32) if ctx.quick else GPU_BATCH_SIZES
    pt, onnx_path, _ = inference.model_files()
    engine = tensorrt_engine(pt, inference.model_imgsz(onnx_path), max(sizes), ctx.log)
    rows, details = inference.run(ctx, device=ctx.device, batch_sizes=sizes)
    rows16, details16 = inference.run(ctx, device=ctx.device, batch_sizes=sizes, half=True,
                                      extra={"tensorrt": engine} if engine else None)
    for r in rows16:
        r.what += ", fp16"
    details = {"fp32": details, "fp16": details16,
               "tensorrt": str(engine) if engine else "not available (tensorrt not installed)"}
    return rows + rows16, details
