"""Run Frontage's benchmarks; write ``var/bench/results.json`` and the table in ``BENCHMARKS.md``.

    python bench/run.py --quick                 # every benchmark, small sizes (< 1 min each)
    python bench/run.py --only decode,inference # some of them, full sizes
    python bench/run.py --only gpu --device cuda:0
    python bench/run.py --only engines,streams,e2e --no-table   # issue #18's figures, BENCHMARKS.md left alone
    python bench/run.py --list

Each benchmark compares the project's code with a baseline measured in the same run (ratios never mix runs).
Results of benchmarks not run this time are kept from the previous results file.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shlex
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/run.py` from the repo root: import bench.* and detector.*
    sys.path.insert(0, str(ROOT))

# Offline ultralytics before anything imports it (same as the Makefile and tests/conftest.py).
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "False")
os.environ.setdefault("YOLO_CONFIG_DIR", str(ROOT / "var" / "ultralytics"))
os.environ.setdefault("MPLCONFIGDIR", str(ROOT / "var" / "matplotlib"))

from bench.common import (  # noqa: E402
    RESULTS,
    BenchError,
    BenchResult,
    Context,
    load_results,
    machine,
    now_iso,
    render_table,
    save_results,
    write_table,
)

#: name -> (module, one-line description); the order is the table's order.
BENCHMARKS: dict[str, tuple[str, str]] = {
    "inference": ("bench.inference", "batched engine (Batcher + backend) vs YOLO(pt).predict one frame at a time"),
    "streams": ("bench.streams", "camera streams per box through the real edge loop, 1 frame/s each (ladder to 128), "
                "and what each lever bought (all on vs each off)"),
    "decode": ("bench.decode", "CPU s per s of 720p H.264: full decode vs decode-and-drop vs keyframes only"),
    "cases": ("bench.cases", "case service: ingest events/s and queue latency with many cases (PostgreSQL, SQLite)"),
    "gpu": ("bench.gpu", "batched engine on a GPU (batch 1-64, fp16, TensorRT if present)"),
    "engines": ("bench.engines", "backend: auto's table on the shipped model (ONNX Runtime, OpenVINO f32/bf16, int8)"),
    "e2e": ("bench.e2e", "CPU s per stream-second: frontage analyze (every lever on; N edge cameras) vs "
            "YOLO(pt).predict(stream, vid_stride=10), two sample clips"),
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: under a minute per benchmark")
    parser.add_argument("--only", default="", help="comma-separated benchmark names (see --list)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda:N (the gpu benchmark needs cuda)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--no-table", action="store_true", help="do not rewrite the table in BENCHMARKS.md")
    parser.add_argument("--results", type=Path, default=RESULTS, help="results file (default var/bench/results.json)")
    parser.add_argument("--clip-seconds", type=float, default=20.0,
                        help="length of the generated source clips (decode; shorter only for smoke tests)")
    args = parser.parse_args(argv)
    if args.list:
        for name, (_, text) in BENCHMARKS.items():
            print(f"{name:10} {text}")
        return 0
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"error: unknown benchmark {unknown[0]!r} (choose from {', '.join(BENCHMARKS)})", file=sys.stderr)
        return 2
    command = "python bench/run.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    results = load_results(args.results)
    failed = 0
    for name in names:
        module_name, _ = BENCHMARKS[name]
        ctx = Context(quick=args.quick, device=args.device, command=command.strip(), log=log,
                      clip_s=args.clip_seconds)
        log(f"{name}: start ({'quick' if args.quick else 'full'})")
        started = time.perf_counter()
        result = BenchResult(name=name, rows=[], machine=machine(), date=now_iso(), command=ctx.command,
                             quick=args.quick)
        try:
            module = importlib.import_module(module_name)
            rows, details = module.run(ctx)
            result.rows, result.details = rows, details
        except BenchError as exc:
            result.error = f"not run: {exc}"
            log(f"{name}: {result.error}")
        except KeyboardInterrupt:
            log(f"{name}: interrupted")
            return 130
        except Exception as exc:  # one broken benchmark must not lose the others' results
            failed += 1
            result.error = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            log(f"{name}: {result.error}")
            if os.environ.get("FRONTAGE_DEBUG"):
                traceback.print_exc()
        result.seconds = round(time.perf_counter() - started, 1)
        result.machine = {**result.machine, "load_avg_1m_end": machine()["load_avg_1m"]}
        results[name] = result
        save_results(results, args.results)
        for row in result.rows:
            ratio = f"{row.ratio:.2f}x" if row.ratio else "-"
            log(f"{name}: {row.what}: {row.project} vs {row.baseline} {row.unit} ({ratio})")
        log(f"{name}: done in {result.seconds:.0f} s")
    if not args.no_table:
        write_table(render_table(results, list(BENCHMARKS)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
