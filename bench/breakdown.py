"""Where one batch's time goes in the ONNX Runtime backend: preprocessing (letterbox into the batch array),
the ONNX Runtime run, and decoding (thresholds + NMS) — each timed by calling the backend's own methods.

Two what-ifs on the same batches (the backend itself is not changed):

* the same graph on a *rectangular* letterbox (a 16:9 frame fitted to the width, height padded to a multiple of 32,
  e.g. 320x192 instead of 320x320; a fixed-size model gets a dynamic-size twin in var/bench/model/);
* sessions with ONNX Runtime's intra-op thread spinning off (``session.intra_op.allow_spinning=0``), and with
  one intra-op thread, square and rectangular. Wall time and process CPU time are both reported: on a box where 40 decoder
  threads share two cores, CPU time is what limits the number of streams.

    python bench/breakdown.py [--batch 8] [--frames 48]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def dynamic_twin(onnx_path: Path) -> str:
    """A copy of the model with a dynamic input height/width (var/bench/model/), for the rectangular what-if."""
    import onnx

    out = ROOT / "var" / "bench" / "model" / f"{onnx_path.stem}-dynamic-hw.onnx"
    if not out.exists() or out.stat().st_mtime < onnx_path.stat().st_mtime:
        out.parent.mkdir(parents=True, exist_ok=True)
        model = onnx.load(str(onnx_path))
        dims = model.graph.input[0].type.tensor_type.shape.dim
        dims[2].dim_param, dims[3].dim_param = "height", "width"
        onnx.save(model, str(out))
    return str(out)


def breakdown(batch: int = 8, n_frames: int = 48, rounds: int = 3) -> dict[str, tuple[float, float]]:
    import onnxruntime as ort

    from bench.common import cpu_seconds
    from bench.inference import model_files, model_imgsz
    from bench.videos import frames_from, street_clip
    from detector.inference import ModelConfig, load_backend

    _, onnx_path, _ = model_files()
    imgsz = model_imgsz(onnx_path)
    backend = load_backend(ModelConfig(path=str(onnx_path), imgsz=imgsz, max_batch=batch))
    h, w = 720, 1280
    gain = min(backend.in_h / h, backend.in_w / w)
    rect_h = int(np.ceil(round(h * gain) / 32) * 32)
    rect_top = (backend.in_h - rect_h) // 2
    square, rect_name = f"{backend.in_w}x{backend.in_h}", f"{backend.in_w}x{rect_h}"
    # fixed input size: a dynamic-size twin of the same graph runs the rectangular what-ifs
    rect_path = dynamic_twin(onnx_path) if isinstance(backend.input.shape[2], int) else str(onnx_path)

    def session(path: str, threads: int, spinning: bool) -> ort.InferenceSession:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])

    # (label, path, threads, spinning, rectangular?)
    what_ifs = [(f"{rect_name}", rect_path, 0, True, True),
                (f"{square}, no spinning", str(onnx_path), 0, False, False),
                (f"{square}, 1 thread, no spinning", str(onnx_path), 1, False, False),
                (f"{rect_name}, no spinning", rect_path, 0, False, True),
                (f"{rect_name}, 1 thread, no spinning", rect_path, 1, False, True)]
    sessions = [(label, session(path, t, spin), rect) for label, path, t, spin, rect in what_ifs]
    images = frames_from(street_clip(1.0), n_frames)
    chunks = [images[i : i + batch] for i in range(0, n_frames, batch)]
    name = backend.input.name
    outputs = backend.output_names[:1]
    best: dict[str, tuple[float, float]] = {}

    def timed(key: str, fn, acc: dict[str, list[float]]):  # type: ignore[no-untyped-def]
        c, w = cpu_seconds(), time.perf_counter()
        value = fn()
        acc.setdefault(key, [0.0, 0.0])
        acc[key][0] += time.perf_counter() - w
        acc[key][1] += cpu_seconds() - c
        return value

    for _ in range(rounds):
        acc: dict[str, list[float]] = {}
        for chunk in chunks:
            feed, geometry = timed("preprocess (letterbox into the batch)", lambda c=chunk: backend.preprocess(c), acc)
            out = timed(f"onnxruntime run, {square}", lambda f=feed: backend.session.run(outputs, {name: f})[0], acc)
            timed("decode + NMS", lambda o=out, g=geometry: [backend._decode_one(o[x[5]], x) for x in g], acc)
            # a rectangular letterbox: the frame fitted to the width, height padded up to a multiple of 32
            rect = np.ascontiguousarray(feed[:, :, rect_top : rect_top + rect_h, :])
            for label, sess, is_rect in sessions:
                x = rect if is_rect else feed
                timed(f"what-if: {label}", lambda s=sess, x=x: s.run(outputs, {name: x}), acc)
        for k, (wall, cpu) in acc.items():
            prev = best.get(k, (float("inf"), float("inf")))
            best[k] = (min(prev[0], wall / n_frames * 1000), min(prev[1], cpu / n_frames * 1000))
    return best


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--frames", type=int, default=48)
    args = parser.parse_args()
    print(f"{'ms per frame, best of 3 rounds':40} {'wall':>8} {'CPU':>8}")
    for key, (wall, cpu) in breakdown(args.batch, args.frames).items():
        print(f"{key:40} {wall:8.1f} {cpu:8.1f}")
