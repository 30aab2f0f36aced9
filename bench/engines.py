"""The engines ``backend: auto`` chooses from, on the shipped model: CPU and wall time per frame and box
agreement with ONNX Runtime f32, plus the int8 model (``detector.inference.quantize``) on both runtimes.

Two parts, one run:

* ``select_backend(..., remeasure=True)`` — exactly what an edge box does on its first start (its own few
  frames and rounds); its table and choice go into the details.
* The same engines (and int8) over more frames and rounds, interleaved, batch 4 of 1280x720 street frames:
  the rows. Baseline = ONNX Runtime f32 (the engine every box had before auto measured), so the ratio is
  the CPU an engine saves per frame.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, BenchError, Context, Row
from bench.videos import frames_from, street_clip

ONNX = ROOT / "models" / "frontage-n.onnx"
INT8 = ROOT / "var" / "bench" / "model" / "frontage-n-int8.onnx"
BATCH = 4


def int8_model(log: Any) -> Path | None:
    """The int8 twin of the shipped model (made once per model file; needs the onnx package)."""
    if INT8.exists() and INT8.stat().st_mtime >= ONNX.stat().st_mtime:
        return INT8
    try:
        from detector.inference.quantize import quantize_int8

        log("engines: quantising the shipped model to int8 (calibration on generated streets)")
        return quantize_int8(ONNX, INT8)
    except ImportError as exc:
        log(f"engines: no int8 rows ({exc})")
        return None


def run(ctx: Context) -> tuple[list[Row], dict[str, Any]]:
    from detector.inference import ModelConfig, load_backend
    from detector.inference.agreement import mutual_agreement
    from detector.inference.autoselect import format_table, machine_id, select_backend
    from detector.inference.openvino import cpu_precisions

    if not ONNX.exists():
        raise BenchError("models/frontage-n.onnx missing")
    if ctx.device != "cpu":
        raise BenchError("CPU engines only (the gpu benchmark covers cuda)")
    n_frames, rounds = (8, 3) if ctx.quick else (16, 5)
    frames = frames_from(street_clip(1.0), n_frames)
    ctx.log("engines: backend: auto's own measurement (as on an edge box's first start)")
    started = time.perf_counter()
    selection = select_backend(ModelConfig(path=str(ONNX), backend={
        "type": "auto", "cache_file": str(ROOT / "var" / "bench" / "engines" / "engines.json")}), remeasure=True)
    auto_s = time.perf_counter() - started
    configs: dict[str, ModelConfig] = {
        "onnxruntime": ModelConfig(path=str(ONNX), backend="onnxruntime", max_batch=BATCH)}
    for hint in cpu_precisions():
        configs[f"openvino/{hint}"] = ModelConfig(path=str(ONNX), backend={"type": "openvino", "hint": hint},
                                                  max_batch=BATCH)
    int8 = int8_model(ctx.log)
    if int8 is not None:
        configs["int8 onnxruntime"] = ModelConfig(path=str(int8), backend="onnxruntime", max_batch=BATCH)
        configs["int8 openvino"] = ModelConfig(path=str(int8), backend={"type": "openvino", "hint": "f32"},
                                               max_batch=BATCH)
    engines = {name: load_backend(cfg) for name, cfg in configs.items()}
    results = {name: engine.infer(frames) for name, engine in engines.items()}  # warm-up and boxes
    reference = results["onnxruntime"]
    best: dict[str, list[float]] = {name: [float("inf"), float("inf")] for name in engines}
    for r in range(rounds):
        ctx.log(f"engines: round {r + 1}/{rounds}")
        for name, engine in engines.items():
            cpu, start = time.process_time(), time.perf_counter()
            engine.infer(frames)
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            best[name] = [min(best[name][0], wall), min(best[name][1], cpu)]
    per_frame = {name: (w / n_frames * 1000, c / n_frames * 1000) for name, (w, c) in best.items()}
    agreement = {name: round(mutual_agreement(reference, res, 0.03), 3) for name, res in results.items()}
    base_wall, base_cpu = per_frame["onnxruntime"]
    rows = []
    for name, (wall, cpu) in per_frame.items():
        rows.append(Row(
            what=f"CPU ms per frame, {name}", project=cpu, baseline=base_cpu, unit="CPU ms/frame",
            higher_is_better=False, project_label=name, baseline_label="onnxruntime f32",
            note=f"wall {wall:.0f} vs {base_wall:.0f} ms/frame; agreement with onnxruntime f32 {agreement[name]:.3f}"
                 + ("; auto's choice" if name == selection.choice else "")
                 + ("; not eligible (< 0.9)" if agreement[name] < 0.9 else "")))
    details = {
        "machine_id": machine_id("cpu"), "frames": n_frames, "frame_size": [1280, 720], "batch": BATCH,
        "rounds": rounds, "auto_choice": selection.choice, "auto_seconds": round(auto_s, 1),
        "auto_table": format_table(selection.table),
        "per_frame_ms": {k: {"wall": round(w, 1), "cpu": round(c, 1)} for k, (w, c) in per_frame.items()},
        "agreement": agreement, "int8_model": str(int8.relative_to(ROOT)) if int8 else None,
        "int8_mb": round(int8.stat().st_size / 1e6, 1) if int8 else None,
    }
    return rows, details
