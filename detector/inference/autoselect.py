"""``backend: auto``: on first start, time every engine that can run this model here, keep the fastest whose
boxes agree with the reference engine, remember the result.

* Candidates: registered engines that read the file and are installed, each with the option sets it asks
  to be timed (OpenVINO: f32, and bf16 where the CPU has it; ONNX Runtime: CPU, or CUDA/TensorRT on cuda).
  The first one that loads is the reference (ONNX Runtime, full precision).
* Each candidate runs a warm-up batch, then rounds interleaved with the others on the same few frames
  (street scenes from ``detector.synth``): the best round counts, as in bench/ — other work on a shared box
  only ever makes a round slower. "Fastest" on a CPU is CPU time per frame: the edge is CPU-bound (cameras
  per box = cores / CPU per frame), an engine's threads count in full, and other processes on a shared box
  cannot inflate it as they inflate wall time. On cuda it is wall time (GPU work is not CPU time).
* A candidate is eligible when :func:`~detector.inference.agreement.mutual_agreement` with the reference
  (same class, IoU >= 0.9, score within 0.03) reaches ``min_agreement``; one that fails to load or to run is
  recorded and skipped, so a broken runtime never stops the edge while another engine works.
* The table is kept in a JSON file keyed by model hash, CPU/GPU and the candidates; a later start loads the
  choice without timing (and falls back down the table if that engine no longer loads).

``frontage edge --benchmark`` prints :func:`format_table` of a fresh :func:`select_backend`.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from detector.inference.agreement import mutual_agreement
from detector.inference.config import AutoOptions, ModelConfig
from detector.inference.modelfile import file_sha256
from detector.inference.protocol import Backend, InferenceError, first_line
from detector.inference.registry import BackendPlugin, plugins

log = logging.getLogger(__name__)

SCORE_TOLERANCE = 0.03  # bf16 and fused kernels move scores by ~0.01; a different box is a real difference
ROUNDS = 3
SAMPLE_FRAMES = 4


@dataclass
class Measurement:
    """One row of the table: an engine with one option set."""

    engine: str  # label, e.g. "openvino/bf16"
    options: dict[str, Any]
    ms_per_frame: float | None = None  # best round, wall time
    cpu_ms_per_frame: float | None = None  # best round, process CPU time
    agreement: float | None = None  # with the reference engine (1.0 for the reference itself)
    error: str | None = None  # why it was skipped
    chosen: bool = False


@dataclass
class Selection:
    backend: Backend
    choice: str
    table: list[Measurement] = field(default_factory=list)
    cached: bool = False
    cache_file: Path | None = None


def label(options: BaseModel) -> str:
    """A short name for an engine option set.

    >>> from detector.inference.config import OnnxRuntimeOptions, OpenVinoOptions
    >>> label(OpenVinoOptions(hint="bf16")), label(OnnxRuntimeOptions()), label(OnnxRuntimeOptions(tensorrt=True))
    ('openvino/bf16', 'onnxruntime', 'onnxruntime/tensorrt')
    >>> label(OnnxRuntimeOptions(threads=1)), label(OpenVinoOptions(hint="f32", threads=4))
    ('onnxruntime/1 thread', 'openvino/f32/4 threads')
    """
    name = str(getattr(options, "type", type(options).__name__))
    if getattr(options, "hint", "auto") != "auto":
        name += f"/{options.hint}"  # type: ignore[attr-defined]
    if getattr(options, "tensorrt", False):
        name += "/tensorrt"
    threads = int(getattr(options, "threads", 0) or 0)
    if threads:
        name += f"/{threads} thread" + ("s" if threads > 1 else "")
    return name


def candidates(cfg: ModelConfig) -> list[tuple[BackendPlugin, BaseModel]]:
    """(engine, options) pairs auto-selection may use for this model, reference first."""
    auto = cfg.backend if isinstance(cfg.backend, AutoOptions) else AutoOptions()
    path = Path(cfg.path)
    found = [p for p in plugins() if p.reads(path) and (auto.candidates is None or p.name in auto.candidates)]
    if auto.candidates is not None:  # in the configured order: the first is the reference
        found.sort(key=lambda p: auto.candidates.index(p.name))  # type: ignore[union-attr]
    timed = [p for p in found if p.timed] or found  # the untimed ones (ultralytics) only when nothing else reads it
    out: list[tuple[BackendPlugin, BaseModel]] = []
    for plugin in timed:
        try:
            if not plugin.available():
                continue
            out += [(plugin, options) for options in plugin.variants(cfg)]
        except Exception as exc:  # a runtime that cannot even list its devices is no candidate
            log.warning("engine %s unavailable: %s", plugin.name, first_line(exc))
    return out


def machine_id(device: str) -> str:
    """CPU model and usable cores (and the GPU's name on cuda): what makes one engine faster than another."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    ident = f"{cpu} x{cores}"
    if device.startswith("cuda"):
        import subprocess

        try:
            gpus = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                                  text=True, timeout=10).stdout.split("\n")
            ident += f" / {gpus[0].strip() or 'GPU'}"
        except (OSError, subprocess.SubprocessError):
            ident += " / GPU"
    return ident


def default_cache_file() -> Path:
    data = os.environ.get("FRONTAGE_DATA_DIR")
    if data:
        return Path(data) / "engines.json"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "frontage" / "engines.json"


def sample_frames(n: int = SAMPLE_FRAMES) -> list[np.ndarray]:
    """Street scenes to time and compare engines on: the synthetic clips' scenarios, half way through."""
    try:
        from detector.synth.clip import FrameRenderer, build_plan
        from detector.synth.scenarios import SCENARIOS

        frames = []
        for i, scenario in enumerate(list(SCENARIOS.values())[:n]):
            plan = build_plan(scenario, seed=i + 1, duration_s=10)
            frames.append(FrameRenderer(plan).frame(plan.frame_count // 2))
        if frames:
            return frames
    except Exception as exc:  # the scene generator is optional here: timing still works on noise
        log.debug("no synthetic frames for engine timing: %s", first_line(exc))
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (720, 1280, 3), np.uint8) for _ in range(n)]


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("engine measurements %s unreadable (%s): measuring again", path, first_line(exc))
        return {}


def _write_cache(path: Path, key: str, entry: dict[str, Any]) -> None:
    try:
        data = _read_cache(path)
        data[key] = entry
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # whole file or nothing
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:  # a read-only data directory costs a re-measurement next start, nothing else
        log.warning("cannot keep engine measurements in %s: %s", path, first_line(exc))


def _load(plugin: BackendPlugin, options: BaseModel, cfg: ModelConfig) -> Backend:
    return plugin.load(cfg.with_backend(options))


def _first_that_loads(cfg: ModelConfig, pairs: Sequence[tuple[BackendPlugin, BaseModel]]) -> tuple[Backend, str]:
    errors = []
    for plugin, options in pairs:
        try:
            return _load(plugin, options, cfg), label(options)
        except Exception as exc:
            errors.append(f"{label(options)}: {first_line(exc)}")
            log.warning("engine %s failed to load, trying the next: %s", label(options), first_line(exc))
    raise InferenceError(f"cannot load model {cfg.path}: no engine loads it ({'; '.join(errors) or 'none installed'})")


def measure(cfg: ModelConfig, pairs: Sequence[tuple[BackendPlugin, BaseModel]], frames: Sequence[np.ndarray],
            rounds: int = ROUNDS, min_agreement: float = 0.9) -> tuple[list[Measurement], dict[str, Backend]]:
    """Time each candidate on ``frames`` (interleaved rounds, best counts) and compare it with the first
    that loads; returns the table and the loaded engines by label."""
    table: list[Measurement] = []
    loaded: dict[str, Backend] = {}
    reference: list | None = None
    reference_name = ""
    frames = list(frames)
    for plugin, options in pairs:
        row = Measurement(label(options), options.model_dump())
        table.append(row)
        try:
            backend = _load(plugin, options, cfg)
            result = backend.infer(frames)  # warm-up, and the boxes to compare
        except Exception as exc:
            row.error = f"failed: {first_line(exc)}"
            log.warning("engine %s skipped: %s", row.engine, row.error)
            continue
        if reference is None:
            reference, reference_name = result, row.engine
        row.agreement = round(mutual_agreement(reference, result, SCORE_TOLERANCE), 3)
        if row.agreement < min_agreement:
            row.error = f"disagrees with {reference_name}"
        loaded[row.engine] = backend
    best: dict[str, tuple[float, float]] = {}
    for _ in range(rounds):
        for name, backend in loaded.items():
            try:
                cpu, start = time.process_time(), time.perf_counter()
                backend.infer(frames)
                wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            except Exception as exc:  # ran once, then failed: not an engine to rely on
                next(r for r in table if r.engine == name).error = f"failed: {first_line(exc)}"
                continue
            least = best.get(name, (wall, cpu))
            best[name] = (min(wall, least[0]), min(cpu, least[1]))
    for row in table:
        if row.engine in best:
            row.ms_per_frame = round(best[row.engine][0] / len(frames) * 1000, 2)
            row.cpu_ms_per_frame = round(best[row.engine][1] / len(frames) * 1000, 2)
    return table, loaded


def _cost(row: Measurement, device: str) -> float:
    """What "fastest" means: CPU per frame on a CPU, wall time per frame on a GPU."""
    return (row.cpu_ms_per_frame if device == "cpu" else row.ms_per_frame) or 0.0


def _cached_table(entry: dict[str, Any]) -> list[Measurement] | None:
    """The rows of a cache entry; None (measure again) if they are not rows of this version's table."""
    names = {f.name for f in fields(Measurement)}
    try:
        return [Measurement(**{k: v for k, v in r.items() if k in names}) for r in entry.get("table", [])]
    except (TypeError, AttributeError):
        return None


def select_backend(cfg: ModelConfig, frames: Sequence[np.ndarray] | None = None, remeasure: bool = False) -> Selection:
    """The engine ``backend: auto`` runs this model on (measured once per machine and model, then cached)."""
    auto = cfg.backend if isinstance(cfg.backend, AutoOptions) else AutoOptions()
    pairs = candidates(cfg)
    if not pairs:
        raise InferenceError(f"cannot load model {cfg.path}: no installed engine reads {Path(cfg.path).suffix or 'a folder'}")
    if not auto.measure or len(pairs) == 1:
        backend, choice = _first_that_loads(cfg, pairs)
        return Selection(backend, choice)
    cache_file = Path(auto.cache_file) if auto.cache_file else default_cache_file()
    key = " | ".join([file_sha256(cfg.path) or cfg.path, machine_id(cfg.device), cfg.device,
                      f"imgsz {cfg.imgsz or 'model'}", ",".join(label(o) for _, o in pairs)])
    by_label = {label(o): (p, o) for p, o in pairs}
    entry = None if remeasure else _read_cache(cache_file).get(key)
    table = _cached_table(entry) if isinstance(entry, dict) and entry.get("choice") in by_label else None
    if entry and table is not None:
        # the cached choice first, then the other agreeing engines by speed, then the rest
        ranked = sorted((r for r in table if r.error is None and r.ms_per_frame is not None and r.engine in by_label),
                        key=lambda r: (not r.chosen, _cost(r, cfg.device)))
        order = [by_label[r.engine] for r in ranked] + [pair for name, pair in by_label.items()
                                                       if name not in {r.engine for r in ranked}]
        backend, choice = _first_that_loads(cfg, order)
        log.info("engine for %s: %s (measured %s, %s)", Path(cfg.path).name, choice, entry.get("measured"), cache_file)
        return Selection(backend, choice, table, cached=True, cache_file=cache_file)
    started = time.perf_counter()
    table, loaded = measure(cfg, pairs, frames if frames is not None else sample_frames(),
                            min_agreement=auto.min_agreement)
    eligible = [r for r in table if r.error is None and r.ms_per_frame is not None]
    if not eligible:
        reasons = "; ".join(f"{r.engine}: {r.error}" for r in table)
        raise InferenceError(f"cannot load model {cfg.path}: no engine runs it ({reasons})")
    chosen = min(eligible, key=lambda r: _cost(r, cfg.device))
    chosen.chosen = True
    log.info("engine for %s: %s, the fastest of %d that agree (%.1f s to measure):\n%s", Path(cfg.path).name,
             chosen.engine, len(eligible), time.perf_counter() - started, format_table(table))
    _write_cache(cache_file, key, {"model": cfg.path, "machine": machine_id(cfg.device),
                                   "measured": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                                   "choice": chosen.engine, "table": [asdict(r) for r in table]})
    return Selection(loaded[chosen.engine], chosen.engine, table, cache_file=cache_file)


def format_table(table: Sequence[Measurement]) -> str:
    """The measurements as a Markdown table (what ``frontage edge --benchmark`` prints)."""
    lines = ["| engine | ms/frame | CPU ms/frame | agreement | |", "|---|---|---|---|---|"]
    for r in table:
        ms = "–" if r.ms_per_frame is None else f"{r.ms_per_frame:.1f}"
        cpu = "–" if r.cpu_ms_per_frame is None else f"{r.cpu_ms_per_frame:.1f}"
        agree = "–" if r.agreement is None else f"{r.agreement:.3f}"
        note = "**chosen**" if r.chosen else (r.error or "")
        lines.append(f"| {r.engine} | {ms} | {cpu} | {agree} | {note} |")
    return "\n".join(lines)


def print_benchmark(cfg: ModelConfig, frames: Sequence[np.ndarray] | None = None) -> Selection:
    """Measure again (whatever the cache holds), keep the result, print the table: ``frontage edge --benchmark``."""
    if not Path(cfg.path).exists():
        raise InferenceError(f"cannot load model {cfg.path}: no such file")
    auto = cfg.backend if isinstance(cfg.backend, AutoOptions) else AutoOptions()
    selection = select_backend(cfg.with_backend(auto.model_copy(update={"measure": True})), frames, remeasure=True)
    print(f"engines for {cfg.path} on {machine_id(cfg.device)}:")
    print(format_table(selection.table))
    print(f"chosen: {selection.choice}" + (f" (kept in {selection.cache_file})" if selection.cache_file else ""))
    return selection


__all__ = ["Measurement", "Selection", "candidates", "format_table", "measure", "print_benchmark",
           "sample_frames", "select_backend"]
