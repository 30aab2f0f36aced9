"""Is the GIL the edge's ceiling? (issue #18 item 6: build an inference worker process only if it is.)

One busy ``bench.streams`` probe (the real edge loop, N cameras) runs in this process; as its measured window
starts, two py-spy samplers attach to it (``--nonblocking``: the process is never paused):

* ``--gil``: at each tick, the one thread holding the GIL (if any). Ticks with a holder / all ticks = how busy
  the GIL is; by thread role = who holds it (the edge loop: gate, letterbox, box decode, tracker, rules;
  camera threads: demux and PyAV's Python side; the engine's own call releases it).
* default (active threads only): how often each thread is running or wants to. A loop thread that is active
  far more often than it holds the GIL while outside the engine call would be waiting for the GIL.

The GIL is the ceiling when it is held nearly all the time (>= ~90 % of ticks) while the process uses clearly
less CPU than the box has; when the cores are full first, a second process only adds copies.

    python -m bench.profile_gil --n 24 [--scene busy] [--all-levers] [--set KEY=VALUE] [--window 20]

Needs ``py-spy`` (``.venv/bin/pip install py-spy``) and permission to ptrace this process (root, or
``kernel.yama.ptrace_scope`` 0). Prints JSON; ``--out DIR`` keeps the raw samples.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import Overrides, parse_set
from bench.streams import all_on, available_levers, probe, scene_clip

RATE = 100  # samples per second
ENGINE_FRAMES = ("Session.run", "InferenceSession.run", "CompiledModel", "infer_new_request", "OpenVino")


def role(thread: str) -> str:
    """The role of a py-spy thread label ``thread (TID): NAME``."""
    name = thread.split(":", 1)[1].strip() if ":" in thread else thread
    if name.startswith("camera-"):
        return "camera threads"
    if name == "edge-runtime":
        return "edge loop"
    return "other python"


def read_raw(path: Path) -> tuple[Counter[str], Counter[str]]:
    """(samples per role, of the edge loop's samples: those inside the engine call vs outside)."""
    by_role: Counter[str] = Counter()
    loop: Counter[str] = Counter()
    if not path.exists():
        return by_role, loop
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        r = role(frames[0])
        by_role[r] += int(count)
        if r == "edge loop":
            loop["in the engine call" if any(e in stack for e in ENGINE_FRAMES) else "outside it"] += int(count)
    return by_role, loop


def sample(pid: int, seconds: float, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    cmd = [spy, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))), "--rate", str(RATE),
           "--format", "raw", "--threads", "--nonblocking", "--output", str(out), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def profile(n: int, scene: str, overrides: Overrides, window_s: float, warmup_s: float, out_dir: Path) -> dict[str, Any]:
    sample_s = window_s - 2  # inside the window, whole seconds
    spies: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        spies.append(sample(os.getpid(), sample_s, out_dir / "gil.txt", "--gil"))
        spies.append(sample(os.getpid(), sample_s, out_dir / "active.txt"))

    result = probe(n, [scene_clip(scene)], overrides=overrides, warmup_s=warmup_s, window_s=window_s,
                   on_window=start, log=lambda m: print(m, file=sys.stderr, flush=True))
    errors = []
    for spy in spies:
        _, err = spy.communicate(timeout=60)
        if spy.returncode:
            errors.append(err.decode(errors="replace").strip().splitlines()[-1:])
    ticks = RATE * sample_s
    gil, gil_loop = read_raw(out_dir / "gil.txt")
    active, active_loop = read_raw(out_dir / "active.txt")
    gil_held = sum(gil.values())
    return {
        "n": n, "scene": scene, "overrides": overrides, "sampled_s": sample_s, "rate": RATE, "ticks": ticks,
        "py_spy_errors": errors,
        "gil_held_share": round(gil_held / ticks, 3),
        "gil_held_share_by_role": {r: round(c / ticks, 3) for r, c in gil.most_common()},
        "edge_loop_gil_samples": dict(gil_loop),
        "active_share_by_role": {r: round(c / ticks, 3) for r, c in active.most_common()},  # threads summed
        "edge_loop_active": {k: round(v / ticks, 3) for k, v in active_loop.items()},
        "process_cores": result["cpu_cores"], "cores_by_thread": result["cores_by_thread"],
        "box_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "probe": {k: result[k] for k in ("on_time", "cpu_per_stream", "lateness_p99_s", "analysed_per_cam_min",
                                         "expected_per_cam_min", "frames_inferred", "frames_skipped_by_gate",
                                         "engine")},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=24)
    parser.add_argument("--scene", choices=("busy", "quiet"), default="busy")
    parser.add_argument("--all-levers", action="store_true", help="every lever of bench.streams.LEVERS on")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="edge.yaml override")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--window", type=float, default=15.0)
    parser.add_argument("--out", type=Path, default=None, help="keep the raw py-spy samples here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("frontage").setLevel(logging.ERROR)
    overrides: Overrides = all_on(available_levers()[0]) if args.all_levers else {}
    overrides.update(parse_set(args.set))
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = args.out or Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        result = profile(args.n, args.scene, overrides, args.window, args.warmup, out_dir)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
