"""Inference engine vs the naive loop: frames/s on the same 1280x720 frames with the same model.

Baseline — the loop a user writes: ``model = YOLO("frontage-n.pt")`` then ``model.predict(frame)`` for one
frame at a time (ultralytics on torch, at the model's input size).

Frontage — ``detector.batching.Batcher`` over ``detector.inference.load_backend(ModelConfig(...))``, frames of
different cameras batched (1, 4, 8, 16), per backend: onnxruntime (the .onnx, the edge image's backend),
ultralytics (the .pt on torch) and openvino (the OpenVINO runtime on the same .onnx, at its default precision
for the CPU) when ``openvino`` is installed.

The model is the shipped ``models/frontage-n`` when present, else a stand-in of the same architecture
(``bench/standin_model.py``). Each configuration runs in several rounds interleaved with the baseline and
the best round counts: on a shared machine the best round is the one least disturbed by other work.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import ROOT, BenchError, Context, Row, cpu_seconds
from bench.standin_model import build_standin, shipped_model
from bench.videos import frames_from, street_clip

BATCH_SIZES = (1, 4, 8, 16)


@functools.cache
def model_files() -> tuple[Path, Path, bool]:
    """(pt, onnx, shipped?), decided once per run: a model landing mid-run must not mix into its figures."""
    shipped = shipped_model()
    if shipped:
        return shipped[0], shipped[1], True
    pt, onnx_path = build_standin()
    return pt, onnx_path, False


def model_imgsz(onnx_path: Path) -> int:
    """The input size the model was exported at (ultralytics writes it into the ONNX metadata)."""
    import onnxruntime as ort

    meta = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).get_modelmeta()
    size = ast.literal_eval(meta.custom_metadata_map.get("imgsz", "[640, 640]"))
    return int(size[0] if isinstance(size, list | tuple) else size)


def naive_loop(pt: Path, images: list[np.ndarray], imgsz: int, device: str) -> tuple[float, float]:
    """(wall s, CPU s) for ``YOLO(pt).predict(frame)`` over the frames one by one (model load excluded)."""
    from ultralytics import YOLO

    model = YOLO(str(pt), task="detect")
    model.predict(images[0], imgsz=imgsz, device=device, verbose=False)  # warm-up (lazy setup, fuse)
    cpu, start = cpu_seconds(), time.perf_counter()
    for image in images:
        model.predict(image, imgsz=imgsz, device=device, verbose=False)
    return time.perf_counter() - start, cpu_seconds() - cpu


def engine(path: Path, backend: str, batch: int, imgsz: int, device: str, half: bool = False) -> Any:
    from detector.batching import Batcher
    from detector.inference import ModelConfig, load_backend

    options: dict[str, Any] = {"type": backend, **({"half": half} if backend == "ultralytics" else {})}
    cfg = ModelConfig(path=str(path), backend=options, imgsz=imgsz, max_batch=batch, device=device)
    return Batcher(load_backend(cfg), max_batch=batch, gate=None)


def engine_pass(batcher: Any, frames: list[Any]) -> tuple[float, float]:
    """(wall s, CPU s) for the Batcher to analyse all frames, handed over ``max_batch`` cameras at a time."""
    step = batcher.max_batch
    cpu, start = cpu_seconds(), time.perf_counter()
    for i in range(0, len(frames), step):
        batcher.infer(frames[i : i + step])
    return time.perf_counter() - start, cpu_seconds() - cpu


def as_frames(images: list[np.ndarray]) -> list[Any]:
    from detector.frames import Frame

    now = datetime.now(UTC)
    # one camera per frame: the batch is "the due frames of N cameras"
    return [Frame(camera_id=f"cam-{i:03d}", image=img, pts_s=0.0, wall_time=now, index=i) for i, img in enumerate(images)]


def run(ctx: Context, device: str | None = None, batch_sizes: tuple[int, ...] = BATCH_SIZES,
        half: bool = False, extra: dict[str, Path] | None = None) -> tuple[list[Row], dict[str, Any]]:
    """``extra``: more models for the ultralytics backend (e.g. a TensorRT engine), by row name."""
    device = device or "cpu"
    pt, onnx_path, shipped = model_files()
    imgsz = model_imgsz(onnx_path)
    n_frames = 16 if ctx.quick else 48
    rounds = 2 if ctx.quick else 3
    images = frames_from(street_clip(1.0), n_frames)
    if len(images) < n_frames:
        raise BenchError(f"the benchmark clip gave {len(images)} frames, {n_frames} needed")
    frames = as_frames(images)
    backends: dict[str, Path] = {"onnxruntime": onnx_path, "ultralytics": pt}
    if device == "cpu" and importlib.util.find_spec("openvino") is not None:
        backends["openvino"] = onnx_path
    else:
        import onnxruntime as ort

        if "CUDAExecutionProvider" not in ort.get_available_providers():  # would silently run on the CPU
            backends.pop("onnxruntime")
    backends.update(extra or {})
    if ctx.quick:
        batch_sizes = tuple(b for b in batch_sizes if b in (1, 8)) or batch_sizes[:1]
    engines: dict[tuple[str, int], Any] = {}
    for name, path in backends.items():
        for b in batch_sizes:
            kind = name if name in ("onnxruntime", "openvino") else "ultralytics"
            engines[(name, b)] = engine(path, kind, b, imgsz, device, half)
            engine_pass(engines[(name, b)], frames[:b])  # warm-up: allocations, lazy init
    base_times: list[tuple[float, float]] = []
    times: dict[tuple[str, int], list[tuple[float, float]]] = {k: [] for k in engines}
    for r in range(rounds):
        ctx.log(f"inference: round {r + 1}/{rounds}: naive loop")
        base_times.append(naive_loop(pt, images, imgsz, device))
        for key, batcher in engines.items():
            ctx.log(f"inference: round {r + 1}/{rounds}: {key[0]} batch {key[1]}")
            times[key].append(engine_pass(batcher, frames))
    base_fps = n_frames / min(t[0] for t in base_times)
    base_cpu_ms = min(t[1] for t in base_times) / n_frames * 1000
    details: dict[str, Any] = {
        "model": str(onnx_path.relative_to(ROOT)),
        "shipped_model": shipped, "imgsz": imgsz, "frames": n_frames, "frame_size": [1280, 720], "rounds": rounds,
        "device": device, "naive_fps_rounds": [round(n_frames / t[0], 2) for t in base_times],
        "naive_cpu_ms_per_frame": round(base_cpu_ms, 1),
        "engine_fps_rounds": {f"{k[0]}/b{k[1]}": [round(n_frames / t[0], 2) for t in v] for k, v in times.items()},
        "engine_cpu_ms_per_frame": {f"{k[0]}/b{k[1]}": round(min(t[1] for t in v) / n_frames * 1000, 1)
                                    for k, v in times.items()},
    }
    rows: list[Row] = []
    model_note = "shipped frontage-n" if shipped else "stand-in yolo11n (shipped model absent)"
    for (name, b), ts in times.items():
        fps = n_frames / min(t[0] for t in ts)
        cpu_ms = min(t[1] for t in ts) / n_frames * 1000
        rows.append(Row(
            what=f"inference frames/s, {name}, batch {b}", project=fps, baseline=base_fps, unit="frames/s",
            project_label=f"Batcher + {name} backend", baseline_label="YOLO(pt).predict per frame",
            target=">= 2x", met=fps >= 2 * base_fps, note=f"{model_note}, imgsz {imgsz}, {device}; CPU {cpu_ms:.0f} vs {base_cpu_ms:.0f} ms/frame"))
    return rows, details
