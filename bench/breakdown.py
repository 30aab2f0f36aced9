"""Where one batch's time goes in the ONNX Runtime backend: preprocessing (letterbox into the batch array),
the ONNX Runtime run, and decoding (thresholds + NMS) — each timed by calling the backend's own methods.

Also runs the same session on a letterboxed *rectangular* input (the 16:9 frame fitted into 416x256 instead of
416x416): the exported model has a dynamic height/width, so this shows what a rectangular letterbox would gain.

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


def breakdown(batch: int = 8, n_frames: int = 48, rounds: int = 3) -> dict[str, float]:
    from bench.inference import model_files, model_imgsz
    from bench.videos import frames_from, street_clip
    from detector.inference import ModelConfig, load_backend

    _, onnx_path, _ = model_files()
    imgsz = model_imgsz(onnx_path)
    backend = load_backend(ModelConfig(path=str(onnx_path), imgsz=imgsz, max_batch=batch))
    images = frames_from(street_clip(1.0), n_frames)
    chunks = [images[i : i + batch] for i in range(0, n_frames, batch)]
    best: dict[str, float] = {}
    for _ in range(rounds):
        t = {"preprocess": 0.0, "onnxruntime run": 0.0, "decode + NMS": 0.0, "run at 416x256 (rect)": 0.0}
        for chunk in chunks:
            t0 = time.perf_counter()
            feed, geometry = backend.preprocess(chunk)
            t1 = time.perf_counter()
            out = backend.session.run(backend.output_names[:1], {backend.input.name: feed})[0]
            t2 = time.perf_counter()
            for g in geometry:
                backend._decode_one(out[g[5]], g)
            t3 = time.perf_counter()
            # a rectangular letterbox: 1280x720 -> 416x234, padded to a multiple of the stride (32): 416x256
            rect = np.ascontiguousarray(feed[:, :, 80:336, :])
            t4 = time.perf_counter()
            backend.session.run(backend.output_names[:1], {backend.input.name: rect})
            t5 = time.perf_counter()
            t["preprocess"] += t1 - t0
            t["onnxruntime run"] += t2 - t1
            t["decode + NMS"] += t3 - t2
            t["run at 416x256 (rect)"] += t5 - t4
        for k, v in t.items():
            best[k] = min(best.get(k, float("inf")), v / n_frames * 1000)
    return best


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--frames", type=int, default=48)
    args = parser.parse_args()
    for name, ms in breakdown(args.batch, args.frames).items():
        print(f"{name:24} {ms:7.2f} ms/frame")
