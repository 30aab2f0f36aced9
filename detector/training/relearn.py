"""``frontage relearn export``: operator feedback from the case service -> a fine-tuning dataset.

- *rejected* cases (false positives) become hard negatives: the evidence frame with labels that no
  longer contain the rejected category (the other objects keep the current model's boxes, so a person
  standing next to the "bag" is not taught away); with no model given, an empty label file.
- *confirmed* cases (and every state after confirmation) become positives: the evidence frame with the
  case's detections as labels (from the case detail's ``detections`` when the service provides them,
  else the current model's boxes of the case's category).

The fine-tuning set mixes these with a replay sample of the base dataset (against forgetting), and keeps
the base dataset's validation lists, so the fine-tuned model is measured on the same val set::

    frontage relearn export --service http://case-service:8000 --token T --out datasets/relearn \
        --base datasets/frontage/data.yaml --model models/frontage-n.pt
    frontage train --from models/frontage-n.pt --data datasets/relearn/data.yaml --epochs 3 --name relearn
    frontage train export --weights runs/train/relearn/weights/last.pt --dest models/frontage-n.onnx
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import yaml

from detector.training.classes import class_names

POSITIVE_STATES = ("confirmed", "notified", "merchant_reported_fixed", "verified", "closed", "escalated",
                   "recheck", "reopened")
NEGATIVE_STATES = ("rejected",)


@dataclass
class RelearnSample:
    """One frame for fine-tuning: image, labels (class names + pixel boxes) and where it came from."""

    image: np.ndarray
    xyxy: np.ndarray
    names: list[str]
    kind: str  # "negative" | "positive"
    origin: dict = field(default_factory=dict)


class CaseServiceClient:
    """The few case-service calls re-learning needs (``/api/v1``, bearer token)."""

    def __init__(self, base_url: str, token: str, timeout: float = 30.0) -> None:
        import httpx

        self.base = base_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)

    def _get(self, path: str, **params: object):
        import httpx

        try:
            r = self.http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise ConnectionError(f"case service {self.base} unreachable: {exc}") from None
        if r.status_code in (401, 403):
            raise PermissionError(f"case service refused the token ({r.status_code}) for {path}")
        if r.status_code >= 400:
            raise RuntimeError(f"case service answered {r.status_code} for {path}: {r.text[:200]}")
        return r

    def cases(self, states: tuple[str, ...], limit: int = 500) -> Iterator[dict]:
        cursor = None
        while True:
            params: dict = {"state": list(states), "limit": min(limit, 500)}
            if cursor:
                params["cursor"] = cursor
            page = self._get("/api/v1/cases", **params).json()
            yield from page.get("items", [])
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def case(self, case_id: int) -> dict:
        return self._get(f"/api/v1/cases/{case_id}").json()

    def evidence(self, url: str) -> bytes:
        return self._get(url if url.startswith("/") else "/" + url).content


def frame_from_evidence(client: CaseServiceClient, detail: dict) -> tuple[np.ndarray | None, str]:
    """The cleanest picture of a case: the raw (unannotated) frame the edge sends with each event; for
    older edges, the last frame of its clip; else the evidence frame JPEG (zone and boxes drawn on it)."""
    evidence = [e for e in detail.get("evidence", []) if e.get("url") and not e.get("purged")]
    for e in evidence:
        if e.get("kind") == "raw" and e.get("source", "edge") == "edge":
            image = cv2.imdecode(np.frombuffer(client.evidence(e["url"]), np.uint8), cv2.IMREAD_COLOR)
            if image is not None:
                return image, "raw_frame"
    clips = [e for e in evidence if e.get("kind") == "clip" and e.get("source", "edge") == "edge"]
    frames = [e for e in evidence if e.get("kind") == "frame" and e.get("source", "edge") == "edge"]
    for e in clips:
        import tempfile

        from detector.training.real_frames import decode_frames

        with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
            f.write(client.evidence(e["url"]))
            f.flush()
            last = None
            for last in decode_frames(Path(f.name)):  # noqa: B007 - we want the last frame
                pass
        if last is not None:
            return last, "clip_last_frame"
    for e in frames:
        image = cv2.imdecode(np.frombuffer(client.evidence(e["url"]), np.uint8), cv2.IMREAD_COLOR)
        if image is not None:
            return image, "annotated_frame"
    return None, "no_evidence"


class ModelLabeller:
    """The current model's boxes on a frame, for labels the service does not carry."""

    def __init__(self, weights: Path, imgsz: int | None = None, conf: float = 0.35) -> None:
        from detector.training.offline_assets import apply_offline_env

        apply_offline_env()
        from ultralytics import YOLO

        from detector.training.train import yolo_imgsz

        self.model = YOLO(str(weights), task="detect")
        self.imgsz, self.conf = imgsz or yolo_imgsz(self.model), conf
        self.category = _class_categories()

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, list[str]]:
        r = self.model.predict(image, imgsz=self.imgsz, conf=self.conf, verbose=False, device="cpu")[0]
        names = class_names()
        return r.boxes.xyxy.cpu().numpy().astype(np.float32), [names[int(c)] for c in r.boxes.cls.cpu().numpy()]


def _class_categories() -> dict[str, str]:
    from detector.training.classes import CLASSES_FILE

    data = yaml.safe_load(CLASSES_FILE.read_text())
    return {str(k): str(v) for k, v in data["classes"].items()}


def category_matches(class_name: str, category: str) -> bool:
    """Does a model class stand for a case category? (a stall cart is street vending or, in a merchant's
    zone, out-of-store trading)

    >>> category_matches("trash_bag", "exposed_garbage"), category_matches("stall_cart", "out_of_store_trading")
    (True, True)
    >>> category_matches("person", "exposed_garbage")
    False
    """
    own = _class_categories().get(class_name)
    return own == category or (own == "street_vending" and category == "out_of_store_trading")


def labels_for_case(detail: dict, image: np.ndarray, labeller: ModelLabeller | None, negative: bool
                    ) -> tuple[np.ndarray, list[str], str]:
    """(pixel boxes, class names, where the labels came from) for one case's frame."""
    h, w = image.shape[:2]
    category = detail.get("category", "")
    if negative:
        if labeller is None:
            return np.zeros((0, 4), np.float32), [], "empty"
        boxes, names = labeller(image)
        keep = [i for i, n in enumerate(names) if not category_matches(n, category)]
        return boxes[keep].reshape(-1, 4), [names[i] for i in keep], "model_minus_rejected_category"
    detections = detail.get("detections")
    if detections:
        known = set(class_names())
        dets = [d for d in detections if d.get("class_name") in known]
        boxes = np.array([[d["box"][0] * w, d["box"][1] * h, d["box"][2] * w, d["box"][3] * h] for d in dets],
                         np.float32).reshape(-1, 4)
        return boxes, [d["class_name"] for d in dets], "case_detections"
    if labeller is None:
        return np.zeros((0, 4), np.float32), [], "none"
    boxes, names = labeller(image)
    return boxes, names, "model"


def pull_samples(client: CaseServiceClient, labeller: ModelLabeller | None, limit: int = 1000,
                 log=print) -> tuple[list[RelearnSample], dict]:
    samples: list[RelearnSample] = []
    stats = {"rejected": 0, "confirmed": 0, "skipped": {}}
    for states, negative in ((NEGATIVE_STATES, True), (POSITIVE_STATES, False)):
        for case in client.cases(states):
            if len(samples) >= limit:
                break
            detail = client.case(int(case["id"]))
            image, frame_kind = frame_from_evidence(client, detail)
            if image is None:
                stats["skipped"][frame_kind] = stats["skipped"].get(frame_kind, 0) + 1
                continue
            boxes, names, label_source = labels_for_case(detail, image, labeller, negative)
            if not negative and not names:
                stats["skipped"]["positive_without_labels"] = stats["skipped"].get("positive_without_labels", 0) + 1
                continue
            samples.append(RelearnSample(image, boxes, names, "negative" if negative else "positive",
                                         {"case": detail["id"], "category": detail.get("category"),
                                          "state": detail.get("state"), "frame": frame_kind,
                                          "labels": label_source, "model_version": detail.get("model_version")}))
            stats["rejected" if negative else "confirmed"] += 1
    log(f"pulled {stats['rejected']} rejected and {stats['confirmed']} confirmed cases; skipped {stats['skipped']}")
    return samples, stats


def write_relearn_dataset(samples: list[RelearnSample], out: Path, base_data: Path | None = None,
                          replay: int = 300, seed: int = 0, repeat: int = 1) -> Path:
    """Write the samples (each ``repeat`` times in the train list) + a replay sample of the base train set.

    Returns the new ``data.yaml``; its val lists are the base dataset's (same yardstick before and after).
    """
    from detector.training.dataset import DatasetWriter

    out = Path(out)
    writer = DatasetWriter(out, width=10_000)  # keep the evidence at its own size
    manifest = []
    for s in samples:
        path = writer.add("train", "relearn", s.image, s.xyxy, s.names)
        manifest.append({"image": path.name, "kind": s.kind, **s.origin})
    train_list = [str(p) for p in writer.lists.get(("train", "relearn"), [])] * max(1, repeat)
    data: dict = {"path": str(out.resolve()), "names": dict(enumerate(class_names()))}
    if base_data is not None:
        base_cfg = yaml.safe_load(Path(base_data).read_text())
        base_root = Path(base_cfg.get("path") or Path(base_data).parent)
        base_train = sorted(p for lst in base_root.glob("train_*.txt") for p in lst.read_text().split())
        rng = np.random.default_rng(seed)
        if replay and base_train:
            train_list += rng.choice(base_train, size=min(replay, len(base_train)), replace=False).tolist()
        data["val"] = str((base_root / "images" / "val").resolve())
        data["val_sources"] = {k: str((base_root / v).resolve()) for k, v in (base_cfg.get("val_sources") or {}).items()}
    else:
        data["val"] = str((out / "train.txt").resolve())
    (out / "train.txt").write_text("\n".join(train_list) + "\n")
    data["train"] = str((out / "train.txt").resolve())
    (out / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return out / "data.yaml"
