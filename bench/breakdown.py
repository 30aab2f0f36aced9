"""Where one batch's time goes in the ONNX Runtime backend: preprocessing (letterbox into the batch array),
the ONNX Runtime run, and decoding (thresholds + NMS) — each timed by calling the backend's own methods.

What-ifs on the same frames, each a backend configured differently (the shipped code is not changed):

* a *square* letterbox (``rect: false``: 320x320 instead of the 320x192 a 16:9 frame needs; a fixed-size model
  gets a dynamic-size twin in var/bench/model/ so that the shipped rectangular letterbox can be measured);
* one intra-op thread (``threads: 1``), and ONNX Runtime's thread spinning back on (its default, which the
  backend turns off). Wall time and process CPU time are both reported: on a box where 40 decoder threads
  share two cores, CPU time is what limits the number of streams.

    python bench/breakdown.py [--batch 8] [--frames 48]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def dynamic_twin(onnx_path: Path) -> Path:
    """A copy of the model with a dynamic input height/width (var/bench/model/), if its size is fixed."""
    import onnx

    model = onnx.load(str(onnx_path))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    if not (dims[2].HasField("dim_value") and dims[3].HasField("dim_value")):
        return onnx_path  # already takes any size, as Frontage exports do
    out = ROOT / "var" / "bench" / "model" / f"{onnx_path.stem}-dynamic-hw.onnx"
    if not out.exists() or out.stat().st_mtime < onnx_path.stat().st_mtime:
        out.parent.mkdir(parents=True, exist_ok=True)
        dims[2].dim_param, dims[3].dim_param = "height", "width"
        onnx.save(model, str(out))
    return out


def breakdown(batch: int = 8, n_frames: int = 48, rounds: int = 3) -> dict[str, tuple[float, float]]:
    from bench.common import cpu_seconds
    from bench.inference import model_files, model_imgsz
    from bench.videos import frames_from, street_clip
    from detector.inference import ModelConfig, load_backend

    _, onnx_path, _ = model_files()
    path = str(dynamic_twin(onnx_path))
    imgsz = model_imgsz(onnx_path)
    base = {"path": path, "imgsz": imgsz, "max_batch": batch, "backend": "onnxruntime"}  # its session is timed
    backend = load_backend(ModelConfig(**base))
    images = frames_from(street_clip(1.0), n_frames)
    chunks = [images[i : i + batch] for i in range(0, n_frames, batch)]
    h, w = backend.input_size(images[:1])
    shipped = f"{w}x{h}"
    square = load_backend(ModelConfig(**base, rect=False))
    one_thread = load_backend(ModelConfig(**base, threads=1))
    spinning = load_backend(ModelConfig(**base))
    spinning.session = _spinning_session(path)
    what_ifs = [(f"square {imgsz}x{imgsz} letterbox", square), (f"{shipped}, 1 intra-op thread", one_thread),
                (f"{shipped}, thread spinning on", spinning)]
    outputs = backend.output_names[:1]
    name = backend.input.name
    best: dict[str, tuple[float, float]] = {}

    def timed(key: str, fn, acc: dict[str, list[float]]):  # type: ignore[no-untyped-def]
        c, t = cpu_seconds(), time.perf_counter()
        value = fn()
        acc.setdefault(key, [0.0, 0.0])
        acc[key][0] += time.perf_counter() - t
        acc[key][1] += cpu_seconds() - c
        return value

    for _ in range(rounds):
        acc: dict[str, list[float]] = {}
        for chunk in chunks:
            feed, geometry = timed("preprocess (letterbox into the batch)", lambda c=chunk: backend.preprocess(c), acc)
            out = timed(f"onnxruntime run, {shipped} (as shipped)",
                        lambda f=feed: backend.session.run(outputs, {name: f})[0], acc)
            timed("decode + NMS", lambda o=out, g=geometry: [backend._decode_one(o[x[5]], x) for x in g], acc)
            for label, alt in what_ifs:
                alt_feed, _ = alt.preprocess(chunk)
                timed(f"what-if: {label}", lambda a=alt, f=alt_feed: a.session.run(outputs, {name: f}), acc)
        for k, (wall, cpu) in acc.items():
            prev = best.get(k, (float("inf"), float("inf")))
            best[k] = (min(prev[0], wall / n_frames * 1000), min(prev[1], cpu / n_frames * 1000))
    return best


def _spinning_session(path: str):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "1")
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--frames", type=int, default=48)
    args = parser.parse_args()
    print(f"{'ms per frame, best of 3 rounds':40} {'wall':>8} {'CPU':>8}")
    for key, (wall, cpu) in breakdown(args.batch, args.frames).items():
        print(f"{key:40} {wall:8.1f} {cpu:8.1f}")
