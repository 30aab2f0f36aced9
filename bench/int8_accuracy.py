"""What int8 costs in accuracy: the float and int8 models side by side on

* the sample clips' episodes (``frontage analyze`` logic, scored as tests/edge/test_ground_truth.py scores
  them, at 0.5 and 1 analysis/s), and
* a dataset's val sources (``frontage train evaluate``: synthetic val and real bags mAP50), when given.

    python -m bench.int8_accuracy [--int8 var/bench/model/frontage-n-int8.onnx] [--data DATA.yaml] [--out J]
                                  [--onnxruntime-only]

Writes JSON (default var/bench/int8_accuracy.json) and prints a summary; the figures go to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FLOAT = ROOT / "models" / "frontage-n.onnx"
CLASSES = ROOT / "models" / "frontage-n.classes.yaml"


def episodes(model: Path, rates: tuple[float, ...] = (0.5, 1.0)) -> dict[str, Any]:
    from detector.pipeline.evaluate import load_episodes, score
    from detector.pipeline.offline import analyze_video
    from detector.zones.schema import load_zones

    out: dict[str, Any] = {}
    for clip in sorted((ROOT / "sample_videos").glob("*.mp4")):
        zones = clip.with_suffix(".zones.yaml")
        for rate in rates:
            result = analyze_video(clip, zones, model=model, classes=CLASSES, analysis_fps=rate)
            s = score(result["episodes"], load_episodes(clip.with_suffix(".truth.json")), load_zones(zones))
            out[f"{clip.stem}@{rate:g}"] = {
                "score": s.as_json(),
                "episodes": sorted((e["zone"], e["category"], round(e["start_s"])) for e in result["episodes"]),
            }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--int8", type=Path, default=ROOT / "var" / "bench" / "model" / "frontage-n-int8.onnx")
    parser.add_argument("--data", type=Path, default=None, help="dataset data.yaml for mAP50 (optional)")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "int8_accuracy.json")
    parser.add_argument("--onnxruntime-only", action="store_true",
                        help="run both models on ONNX Runtime (auto would run the float one on its fastest engine)")
    args = parser.parse_args(argv)
    if args.onnxruntime_only:
        from detector.inference.registry import plugins, unregister_backend

        for plugin in plugins():
            if plugin.name != "onnxruntime":
                unregister_backend(plugin.name)
    os.environ.setdefault("FRONTAGE_DATA_DIR", str(ROOT / "var" / "bench" / "engines"))
    if not args.int8.exists():
        from detector.inference.quantize import quantize_int8

        quantize_int8(FLOAT, args.int8)
    report: dict[str, Any] = {"float": str(FLOAT), "int8": str(args.int8)}
    if args.data:
        from detector.training.evaluate import evaluate

        report["map50"] = {name: {src: m["map50"] for src, m in evaluate(path, args.data, imgsz=640)["sources"].items()}
                           for name, path in (("float", FLOAT), ("int8", args.int8))}
        print("mAP50:", json.dumps(report["map50"]))
    report["episodes"] = {"float": episodes(FLOAT), "int8": episodes(args.int8)}
    changed = [k for k in report["episodes"]["float"]
               if report["episodes"]["float"][k]["episodes"] != report["episodes"]["int8"][k]["episodes"]]
    report["episodes_changed"] = changed
    for key in report["episodes"]["float"]:
        f, q = report["episodes"]["float"][key]["score"], report["episodes"]["int8"][key]["score"]
        print(f"{key:32s} float P/R {f['precision']:.2f}/{f['recall']:.2f}  int8 P/R {q['precision']:.2f}/{q['recall']:.2f}"
              + ("  (episodes differ)" if key in changed else ""))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
