"""Real-footage evaluation of the shipped model under the rules: false episodes, recall, still frames, AP50.

``python -m bench.real_footage [--quick] [--ap]`` runs, from ``../shared`` only (nothing it builds is kept):

1. **Looped clips**: every clip in ``../shared/videos`` looped to ``--loop-s`` (one hour) at 1 analysis/s,
   zones over all the ground (``tests/model/fixtures/<clip>.zones.yaml``, every category forbidden): every
   episode is false -> false episodes per camera-hour.
2. **Composited clips**: each clip looped to ``--clip-s`` with real trash bags (cut out of the Woosong *valid*
   photos along their polygons, which the model never trained on) pasted at a fixed spot from known start to
   known end -> episode recall and false episodes on real pixels. Then the same bags **swaying**: pushed to
   and fro by half their width (period 7.3 s) for the same windows, a thing that is there but does not stay
   (the pushchair of issue 15) -> every episode is false.
3. **Still frames**: real frames held still for ``--still-s`` (everything in them is static, so only the
   model's classes decide): clip frames (every episode false) and the real bag / street-garbage validation
   photos (an ``exposed_garbage`` episode should open; any other is false, counted by category and opening
   class in ``false_by_class``).
4. ``--ap``: AP50 on the real bag val split and the street-garbage val split (class 1 ``garbage`` as
   ``litter_pile``; class 0 dropped) through ``detector.training.evaluate`` (per class, as training reports
   it), and AP50 of the ``exposed_garbage`` category (a pile found as bags counts, as it does for the rules).

Every frame is inferred once and fed to the 3.1 rules (`RulePolicy.legacy`) and the current rules side by
side (the current rules also get ByteTrack ids, as on the edge; the 3.1 rules never had them), so the two
columns are measured on the same detections. The score distributions it prints (negatives: every violation
box on the looped clips and clip stills; positives: boxes on the pasted bags) are what the class score floors
of `RulePolicy` are calibrated on.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "model" / "fixtures"
OUT = ROOT / "var" / "bench" / "real_footage.json"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
GARBAGE = "exposed_garbage"
ALL_CATEGORIES = ["out_of_store_trading", "exposed_garbage", "disorderly_parking", "stacked_materials", "street_vending"]


def whole_frame_zones(camera: str):
    from detector.zones.schema import parse_zones

    return parse_zones({"camera": camera, "zones": [{
        "id": "z-all", "kind": "sidewalk", "polygon": [[0.01, 0.01], [0.99, 0.01], [0.99, 0.99], [0.01, 0.99]],
        "forbid": ALL_CATEGORIES}]})


def clip_zones(clip: Path):
    from detector.zones.schema import load_zones

    path = FIXTURES / f"{clip.stem}.zones.yaml"
    return load_zones(path) if path.exists() else whole_frame_zones(clip.stem)


class Rules:
    """One analyzer per rule set, fed the same frames and detections."""

    def __init__(self, zones, classmap, policies: dict[str, object], camera: str) -> None:
        from detector.events import ModelInfo
        from detector.pipeline.analyzer import CameraAnalyzer
        from detector.rules import RuleEngine

        self.camera = camera
        self.analyzers = {}
        for name, policy in policies.items():
            # the 3.1 rules had no score floors: the same class map without its min_score
            cmap = replace(classmap, min_score={}, _tables={}) if name == "3.1" else classmap
            a = CameraAnalyzer(camera, zones, cmap, ModelInfo(name="frontage-n", version="bench", sha256="0" * 64))
            a.rules = RuleEngine(zones, camera=camera, policy=policy)
            self.analyzers[name] = a
        self.trackers = None
        try:
            from detector.tracking.bytetrack import CameraTrackers

            self.trackers = CameraTrackers(frame_rates={camera: 1.0})
        except Exception:  # tracking not in this checkout: the rules fall back to box overlap
            self.trackers = None

    def feed(self, t: float, image: np.ndarray, dets) -> None:
        from detector.frames import Frame

        frame = Frame(self.camera, image, t, T0 + timedelta(seconds=t))
        tracked = self.trackers.update(self.camera, dets, t) if self.trackers is not None else dets
        for name, analyzer in self.analyzers.items():
            analyzer.process(frame, dets if name == "3.1" else tracked)

    def episodes(self) -> dict[str, list[dict]]:
        return {name: sorted((e.as_json() for e in a.episodes.values()), key=lambda e: e["start_s"])
                for name, a in self.analyzers.items()}


def batched_infer(backend, items: Iterable[tuple[float, np.ndarray]]) -> Iterator[tuple[float, np.ndarray, object]]:
    batch: list[tuple[float, np.ndarray]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= backend.max_batch:
            yield from ((t, img, d) for (t, img), d in zip(batch, backend.infer([b[1] for b in batch]), strict=True))
            batch = []
    if batch:
        yield from ((t, img, d) for (t, img), d in zip(batch, backend.infer([b[1] for b in batch]), strict=True))


def _violation_scores(dets, classmap, into: dict[str, list[float]]) -> None:
    from detector.categories import IGNORE

    for name, score in zip(dets.names, dets.confidence, strict=True):
        if classmap.category_of(str(name)) != IGNORE:
            into.setdefault(str(name), []).append(float(score))


def _box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from detector.rules import box_iou

    return box_iou(np.asarray(a, np.float32).reshape(-1, 4), np.asarray(b, np.float32).reshape(-1, 4))


def run(shared: Path, model: Path, *, loop_s: float, clip_s: float, still_s: float, stills_per_clip: int,
        photos_limit: int | None, bag_windows: int, log: Callable[[str], None], only: set[str] | None = None,
        photo_sets: tuple[str, ...] = ("bags", "street_garbage")) -> dict:
    """Every section for every clip (``only``: just these clip file names); see the module docstring."""
    from detector.classmap import ClassMap, classes_file_for
    from detector.inference import ModelConfig, load_backend
    from detector.rules import RulePolicy
    from detector.training.real_clips import (
        SourceClip,
        bag_cutouts_valid,
        photo_set,
        plan_bag_episodes,
        shared_clips,
    )

    backend = load_backend(ModelConfig(path=str(model), max_batch=4))
    classmap = ClassMap.load(classes_file_for(model))
    policies = {"3.1": RulePolicy.legacy(), "current": RulePolicy()}
    result: dict = {"model": str(model), "version": str(backend.version), "engine": backend.backend, "policy": RulePolicy().model_dump(),
                    "min_score": classmap.min_score,
                    "loop_s": loop_s, "clip_s": clip_s, "still_s": still_s, "looped": {}, "composited": {},
                    "swaying": {}, "stills": {}, "photos": {}}
    negatives: dict[str, list[float]] = {}
    positives: dict[str, list[float]] = {}
    cutouts = bag_cutouts_valid(shared, limit=60)
    for path in shared_clips(shared):
        if only is not None and path.name not in only:
            continue
        started = time.perf_counter()
        clip = SourceClip.load(path)
        zones = clip_zones(path)
        cache: dict[int, object] = {}

        def dets_at(indices: list[int], clip: SourceClip = clip, cache: dict = cache) -> None:
            todo = sorted({i for i in indices if i not in cache})
            for i, _, d in batched_infer(backend, ((i, clip.frames[i]) for i in todo)):
                cache[int(i)] = d

        # 1. looped to loop_s: every episode is false
        times = np.arange(0.0, loop_s, 1.0)
        idx = [clip.index_at(t) for t in times]
        dets_at(idx)
        for i in set(idx):
            _violation_scores(cache[i], classmap, negatives)
        rules = Rules(zones, classmap, policies, zones.camera)
        for t, i in zip(times, idx, strict=True):
            rules.feed(float(t), clip.frames[i], cache[i])
        eps = rules.episodes()
        result["looped"][path.name] = {
            "frames_inferred": len(set(idx)), "hours": loop_s / 3600,
            **{name: {"false_episodes": len(e), "per_camera_hour": round(len(e) / (loop_s / 3600), 3),
                      "episodes": e[:20]} for name, e in eps.items()}}
        log(f"{path.name}: looped {loop_s:.0f}s: " + ", ".join(f"{n} {len(e)} false" for n, e in eps.items())
            + f" ({time.perf_counter() - started:.0f}s)")

        # 2. composited: real bags at known times
        step = clip_s / bag_windows
        windows = [(k * step + 0.25 * step, k * step + 0.85 * step) for k in range(bag_windows)]
        truth = plan_bag_episodes(clip, zones.zones[0], cutouts, windows, seed=zlib.crc32(path.name.encode()) % 1000)
        rules = Rules(zones, classmap, policies, zones.camera)
        times = np.arange(0.0, clip_s, 1.0)

        def frames(clip: SourceClip = clip, truth: list = truth, times: np.ndarray = times):
            for t in times:
                i = clip.index_at(t)
                bag = next((b for b in truth if b.covers(t)), None)
                yield (float(t), bag.render(clip.frames[i], t) if bag else None, i, bag)

        def run_frames(items: Iterable, rules: Rules, positives: dict | None,
                       clip: SourceClip = clip, cache: dict = cache, dets_at: Callable = dets_at) -> None:
            pending: list[tuple[float, np.ndarray, object]] = []

            def flush() -> None:
                for (t, img, bag), d in zip(pending, backend.infer([p[1] for p in pending]), strict=True):
                    hit = _box_iou(d.xyxy, np.array(bag.box))[:, 0] >= 0.5 if len(d) else np.zeros(0, bool)
                    for name, score, h in zip(d.names, d.confidence, hit, strict=True):
                        if positives is not None and h and classmap.category_of(str(name)) == GARBAGE:
                            positives.setdefault(str(name), []).append(float(score))
                    rules.feed(t, img, d)
                pending.clear()

            for t, img, i, bag in items:
                if bag is None:
                    flush()
                    dets_at([i])
                    rules.feed(t, clip.frames[i], cache[i])
                else:
                    pending.append((t, img, bag))
                    if len(pending) >= backend.max_batch:
                        flush()
            flush()

        run_frames(frames(), rules, positives)
        eps = rules.episodes()
        entry: dict = {"truth": [{"start_s": b.start_s, "end_s": b.end_s, "box": [round(v, 1) for v in b.box]}
                                 for b in truth]}
        for name, found in eps.items():
            matched, used = 0, set()
            for b in truth:
                k = next((k for k, e in enumerate(found) if k not in used and e["category"] == GARBAGE
                          and b.start_s - 2 <= e["start_s"] < b.end_s), None)
                if k is not None:
                    used.add(k)
                    matched += 1
            entry[name] = {"found": matched, "false_episodes": len(found) - len(used), "episodes": found[:20]}
        result["composited"][path.name] = entry
        log(f"{path.name}: composited {len(truth)} bags: "
            + ", ".join(f"{n} {entry[n]['found']} found {entry[n]['false_episodes']} false" for n in eps))

        # 2b. the same bags pushed to and fro within their own width the whole time: no episode is true
        swaying = [replace(b, sway_px=0.5 * (b.box[2] - b.box[0])) for b in truth]
        rules = Rules(zones, classmap, policies, zones.camera)
        run_frames(frames(truth=swaying), rules, positives=None)
        eps = rules.episodes()
        result["swaying"][path.name] = {name: {"false_episodes": len(e), "episodes": e[:20]} for name, e in eps.items()}
        log(f"{path.name}: {len(swaying)} bags swaying: " + ", ".join(f"{n} {len(e)} false" for n, e in eps.items()))

        # 3a. clip frames held still
        picks = np.linspace(0, len(clip.frames) - 1, stills_per_clip).round().astype(int).tolist()
        dets_at(picks)
        false: dict[str, list] = {n: [] for n in policies}
        for i in picks:
            _violation_scores(cache[i], classmap, negatives)
            rules = Rules(zones, classmap, policies, zones.camera)
            for t in np.arange(0.0, still_s + 1, 1.0):
                rules.feed(float(t), clip.frames[i], cache[i])
            for name, e in rules.episodes().items():
                false[name] += e
        result["stills"][path.name] = {"frames": len(picks), **{n: {"false_episodes": len(v), "episodes": v[:20]}
                                                                 for n, v in false.items()}}
        del clip, cache

    # 3b. real photos held still: a bag or a garbage pile should open exposed_garbage, nothing else
    for which in photo_sets:
        import cv2

        photos = photo_set(shared, which)[:photos_limit]
        tally = {n: {"photos": len(photos), "opened": 0, "false_episodes": 0} for n in policies}
        items = ((k, cv2.imread(str(p.path))) for k, p in enumerate(photos))
        for k, img, d in batched_infer(backend, items):
            hit = (_box_iou(d.xyxy, photos[k].boxes) >= 0.5).any(axis=1) if len(d) else np.zeros(0, bool)
            for name, score, h in zip(d.names, d.confidence, hit, strict=True):
                if h and classmap.category_of(str(name)) == GARBAGE:
                    positives.setdefault(f"{which}:{name}", []).append(float(score))
            rules = Rules(whole_frame_zones("photo"), classmap, policies, "photo")
            for t in np.arange(0.0, still_s + 1, 1.0):
                rules.feed(float(t), img, d)
            for name, e in rules.episodes().items():
                tally[name]["opened"] += any(x["category"] == GARBAGE for x in e)
                tally[name]["false_episodes"] += sum(x["category"] != GARBAGE for x in e)
                for x in e:  # what opened each other episode: the reviewer's first question
                    if x["category"] != GARBAGE:
                        key = f"{x['category']}:{x.get('opened_class')}"
                        other = tally[name].setdefault("false_by_class", {})
                        other[key] = other.get(key, 0) + 1
        result["photos"][which] = tally
        log(f"photos {which}: " + ", ".join(f"{n} {v['opened']}/{v['photos']} opened, {v['false_episodes']} false"
                                            for n, v in tally.items()))

    result["scores"] = {"negatives": _quantiles(negatives), "positives": _quantiles(positives)}
    result["summary"] = summarise(result)
    return result


def _quantiles(scores: dict[str, list[float]]) -> dict[str, dict]:
    return {k: {"n": len(v), "max": round(max(v), 3), "p50": round(float(np.median(v)), 3),
                "p10": round(float(np.quantile(v, 0.1)), 3), "p90": round(float(np.quantile(v, 0.9)), 3)}
            for k, v in sorted(scores.items()) if v}


def summarise(result: dict) -> dict:
    out = {}
    for name in ("3.1", "current"):
        looped = result["looped"].values()
        hours = sum(v["hours"] for v in looped)
        false_looped = sum(v[name]["false_episodes"] for v in looped)
        comp = result["composited"].values()
        truth = sum(len(v["truth"]) for v in comp)
        found = sum(v[name]["found"] for v in comp)
        comp_false = sum(v[name]["false_episodes"] for v in comp)
        stills = result["stills"].values()
        out[name] = {
            "looped_false_episodes": false_looped, "looped_camera_hours": round(hours, 3),
            "false_per_camera_hour": round(false_looped / hours, 3) if hours else None,
            "composited_truth": truth, "composited_found": found,
            "composited_recall": round(found / truth, 3) if truth else None,
            "composited_false": comp_false,
            "composited_precision": round(found / (found + comp_false), 3) if found + comp_false else None,
            "swaying_false": sum(v[name]["false_episodes"] for v in result["swaying"].values()),
            "still_clip_frames": sum(v["frames"] for v in stills),
            "still_clip_false": sum(v[name]["false_episodes"] for v in stills),
            **{f"photos_{w}_recall": round(v[name]["opened"] / v[name]["photos"], 3) if v[name]["photos"] else None
               for w, v in result["photos"].items()},
            **{f"photos_{w}_false": v[name]["false_episodes"] for w, v in result["photos"].items()},
        }
    return out


def ap50(shared: Path, model: Path, work: Path, imgsz: int | None = None) -> dict:
    """AP50 of ``model`` on the real bag and street-garbage val splits (``detector.training.evaluate``)."""
    import yaml

    from detector.training.classes import class_names
    from detector.training.evaluate import evaluate
    from detector.training.labels import yolo_line
    from detector.training.real_clips import photo_set

    names = class_names()
    lists = {}
    for which, cls in (("bags", names.index("trash_bag")), ("street_garbage", names.index("litter_pile"))):
        images, labels = work / which / "images", work / which / "labels"
        images.mkdir(parents=True, exist_ok=True)
        labels.mkdir(parents=True, exist_ok=True)
        paths = []
        for p in photo_set(shared, which):
            link = images / p.path.name
            if not link.exists():
                link.symlink_to(p.path.resolve())
            (labels / (p.path.stem + ".txt")).write_text(
                "\n".join(yolo_line(cls, b, 640, 640) for b in p.boxes) + "\n")
            paths.append(str(link))
        (work / f"val_{which}.txt").write_text("\n".join(paths) + "\n")
        lists[which] = f"val_{which}.txt"
    data = work / "data.yaml"
    data.write_text(yaml.safe_dump({"path": str(work), "train": lists["bags"], "val": lists["bags"],
                                    "names": dict(enumerate(names)), "val_sources": lists}))
    return evaluate(model, data, imgsz=imgsz or 640, batch=8)


def average_precision(scores: np.ndarray, hits: np.ndarray, n_truth: int) -> float:
    """All-point interpolated AP (VOC 2010+, what ultralytics computes) of ranked predictions.

    >>> average_precision(np.array([0.9, 0.8, 0.7]), np.array([True, False, True]), 2)
    0.8333
    """
    if not n_truth or not len(scores):
        return 0.0
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(hits[order])
    recall = np.concatenate([[0.0], tp / n_truth, [1.0]])
    precision = np.concatenate([[1.0], tp / np.arange(1, len(tp) + 1), [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    step = np.flatnonzero(np.diff(recall))
    return round(float(np.sum((recall[step + 1] - recall[step]) * precision[step + 1])), 4)


def category_ap50(shared: Path, model: Path, category: str = GARBAGE) -> dict[str, float]:
    """AP50 of ``category`` (any model class mapped to it, e.g. trash_bag or litter_pile) on each real val
    photo set: a pile of rubbish found as bags counts, as it does for the rules."""
    import cv2

    from detector.classmap import ClassMap, classes_file_for
    from detector.inference import ModelConfig, load_backend
    from detector.training.real_clips import photo_set

    backend = load_backend(ModelConfig(path=str(model), max_batch=4, conf=0.001))  # the whole curve, as val does
    classmap = ClassMap.load(classes_file_for(model))
    out = {}
    for which in ("bags", "street_garbage"):
        photos = photo_set(shared, which)
        scores, hits, n_truth = [], [], 0
        items = ((k, cv2.imread(str(p.path))) for k, p in enumerate(photos))
        for k, _, d in batched_infer(backend, items):
            truth = photos[k].boxes
            n_truth += len(truth)
            mine = np.array([classmap.category_of(str(n)) == category for n in d.names], bool)
            boxes, conf = d.xyxy[mine], d.confidence[mine]
            iou = _box_iou(boxes, truth)
            used = np.zeros(len(truth), bool)
            for j in np.argsort(-conf, kind="stable"):
                g = int(np.argmax(np.where(used, -1, iou[j]))) if len(truth) else -1
                hit = g >= 0 and iou[j, g] >= 0.5 and not used[g]
                if hit:
                    used[g] = True
                scores.append(float(conf[j]))
                hits.append(hit)
        out[which] = average_precision(np.array(scores), np.array(hits, bool), n_truth)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "frontage-n.onnx")
    ap.add_argument("--loop-s", type=float, default=3600.0, help="looped length of each clip (seconds)")
    ap.add_argument("--clip-s", type=float, default=600.0, help="length of each composited clip (seconds)")
    ap.add_argument("--bags", type=int, default=4, help="bag episodes per composited clip")
    ap.add_argument("--still-s", type=float, default=60.0)
    ap.add_argument("--stills-per-clip", type=int, default=8)
    ap.add_argument("--photos", type=int, default=None, help="at most this many photos per set")
    ap.add_argument("--quick", action="store_true", help="10-minute loops, 2 bags per clip, 40 photos per set")
    ap.add_argument("--ap", action="store_true", help="also AP50 on the real val splits (imports ultralytics)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    if not (args.shared / "videos").is_dir():
        print(f"no real footage at {args.shared} (../shared/videos)", file=sys.stderr)
        return 2
    if args.quick:
        args.loop_s, args.clip_s, args.bags, args.photos = min(args.loop_s, 600.0), min(args.clip_s, 300.0), 2, 40
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    started = time.perf_counter()
    result = run(args.shared, args.model, loop_s=args.loop_s, clip_s=args.clip_s, still_s=args.still_s,
                 stills_per_clip=args.stills_per_clip, photos_limit=args.photos, bag_windows=args.bags, log=log)
    if args.ap:
        from detector.training.offline_assets import apply_offline_env

        apply_offline_env()
        m = ap50(args.shared, args.model, ROOT / "var" / "bench" / "real_eval")
        result["ap50"] = {k: v["map50"] for k, v in m["sources"].items()}
        result["ap50_exposed_garbage"] = category_ap50(args.shared, args.model)
        log(f"AP50 per class (training.evaluate): {result['ap50']}; exposed_garbage category: "
            f"{result['ap50_exposed_garbage']}")
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({"summary": result["summary"], "scores": result["scores"], "ap50": result.get("ap50"),
                      "ap50_exposed_garbage": result.get("ap50_exposed_garbage")}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
