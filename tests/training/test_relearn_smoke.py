"""Re-learning loop, fast: a real case service (SQLite, uvicorn in a thread) with one rejected and one
confirmed case -> ``relearn export`` -> fine-tuning set mixed with a replay sample -> one tiny fine-tune."""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from tests.conftest import MODELS, ROOT

sys.path.insert(0, str(ROOT / "tests" / "api"))


def _synth_frame() -> np.ndarray:
    from detector.synth import random_labeled_frames

    return next(random_labeled_frames(1, seed=99, size=(320, 180))).image


def _clip(frames: list[np.ndarray]) -> bytes:
    import io

    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=Fraction(1))
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        for i, f in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(f, format="bgr24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return buf.getvalue()


@pytest.fixture()
def case_service(tmp_path: Path):  # type: ignore[no-untyped-def]
    pytest.importorskip("fastapi")
    from apikit import ThreadServer, api_settings, event, evidence_ref, make_world, post_event

    from api.db.migrate import upgrade
    from api.main import create_app
    from detector.categories import Category
    from detector.events import EvidenceKind

    url = f"sqlite:///{tmp_path / 'cases.db'}"
    upgrade(url)
    app = create_app(api_settings(url, evidence_max_bytes=4 * 1024 * 1024))
    world = make_world(app)
    frame = _synth_frame()
    jpeg = cv2.imencode(".jpg", frame)[1].tobytes()
    raw = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
    clip = _clip([frame, frame])
    with ThreadServer(app) as server:
        import httpx

        with httpx.Client(base_url=server.url) as http:
            ids = []
            for zone, with_clip in ((world.zone_a, True), (world.zone_free, False)):
                refs = [evidence_ref("frame.jpg", jpeg)]
                files = {"frame.jpg": ("frame.jpg", jpeg, "image/jpeg")}
                if with_clip:  # what a current edge sends: the raw frame too
                    refs.append(evidence_ref("clip.mp4", clip, EvidenceKind.CLIP, "video/mp4"))
                    files["clip.mp4"] = ("clip.mp4", clip, "video/mp4")
                    refs.append(evidence_ref("raw.jpg", raw, EvidenceKind.RAW))
                    files["raw.jpg"] = ("raw.jpg", raw, "image/jpeg")
                r = post_event(http, world.tokens["edge_x"], event(world.cam_a, zone, category=Category.EXPOSED_GARBAGE,
                                                                    evidence=refs), files)
                assert r.status_code in (200, 201), r.text
                ids.append(r.json()["case_id"])
            auth = world.auth("operator")
            assert http.post(f"/api/v1/cases/{ids[0]}/actions/reject", json={"note": "a shadow"}, headers=auth).status_code == 200
            assert http.post(f"/api/v1/cases/{ids[1]}/actions/confirm", json={}, headers=auth).status_code == 200
        yield server.url, world.tokens["operator"], frame
    app.state.engine.dispose()


def test_relearn_export_pulls_rejected_and_confirmed_cases(case_service, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from detector.training.relearn import CaseServiceClient, pull_samples, write_relearn_dataset

    url, token, frame = case_service
    samples, stats = pull_samples(CaseServiceClient(url, token), labeller=None, log=lambda m: None)
    # without a model, the confirmed case (the service sends no boxes) cannot be labelled and is skipped
    assert stats["rejected"] == 1 and stats["skipped"] == {"positive_without_labels": 1}
    neg = samples[0]
    assert neg.kind == "negative" and neg.names == [] and neg.origin["frame"] == "raw_frame"
    assert neg.image.shape == frame.shape  # the raw frame, not the annotated JPEG

    # a base dataset to replay from
    base = tmp_path / "base"
    (base / "images" / "train").mkdir(parents=True)
    (base / "labels" / "train").mkdir(parents=True)
    (base / "images" / "val").mkdir(parents=True)
    paths = []
    for i in range(5):
        p = base / "images" / "train" / f"synth_{i:05d}.jpg"
        cv2.imwrite(str(p), frame)
        (base / "labels" / "train" / f"synth_{i:05d}.txt").write_text("0 0.5 0.5 0.1 0.2\n")
        paths.append(str(p))
    (base / "train_synth.txt").write_text("\n".join(paths) + "\n")
    (base / "val_synth.txt").write_text(paths[0] + "\n")
    (base / "data.yaml").write_text(yaml.safe_dump({"path": str(base), "train": "images/train", "val": "images/val",
                                                    "val_sources": {"synth": "val_synth.txt"}}))
    data = write_relearn_dataset(samples, tmp_path / "relearn", base_data=base / "data.yaml", replay=3, repeat=2)
    cfg = yaml.safe_load(data.read_text())
    train_list = Path(cfg["train"]).read_text().split()
    assert len(train_list) == 2 + 3 and sum(Path(p).name.startswith("relearn_") for p in train_list) == 2
    assert (tmp_path / "relearn" / "labels" / "train" / "relearn_00000.txt").read_text() == ""  # hard negative
    assert cfg["val_sources"]["synth"].endswith("val_synth.txt")


def test_relearn_export_cli_errors_are_one_line(tmp_path: Path) -> None:
    import subprocess

    proc = subprocess.run([sys.executable, "-m", "detector", "relearn", "export", "--service", "http://127.0.0.1:9",
                           "--token", "x", "--out", str(tmp_path / "r")], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and "unreachable" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.skipif(not (MODELS / "frontage-n.pt").exists(), reason="the shipped model models/frontage-n.pt is missing")
def test_fine_tune_from_shipped_model_changes_its_weights(tmp_path: Path) -> None:
    """`frontage train --from models/frontage-n.pt` on a relearn set: one tiny epoch, new weights come out."""
    from detector.training.relearn import RelearnSample, write_relearn_dataset
    from detector.training.train import TrainOptions, train

    frame = _synth_frame()
    samples = [RelearnSample(frame, np.zeros((0, 4), np.float32), [], "negative") for _ in range(2)]
    data = write_relearn_dataset(samples, tmp_path / "relearn", base_data=None, repeat=2)
    run = train(TrainOptions(data=data, from_weights=MODELS / "frontage-n.pt", epochs=1, imgsz=64, batch=4,
                             device="cpu", project=tmp_path / "runs", name="ft", workers=0, cache=False,
                             extra={"mosaic": 0.0, "warmup_epochs": 0}))
    assert (run / "weights" / "last.pt").exists()
