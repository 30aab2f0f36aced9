"""The service's evidence directory is read-only, or its disk is full: the event must still be recorded (the
case exists), the answer is not a 500, and the log has one clear line naming the problem, no traceback.

Real faults, no mocks and no root mounts:
* read-only: the directory is made immutable (``chattr +i``, refused even to root) or, as a normal user,
  ``chmod 0555``;
* disk full: the evidence store is content-addressed (``<dir>/<sha[:2]>/<sha>.part`` then renamed), so the
  temp file of the upload we are about to send is pre-created as a symlink to ``/dev/full``, where every
  write fails with the kernel's own ENOSPC. (A tiny real filesystem would need a root mount.)

The edge side (evidence writer on an unwritable / full disk) is covered by tests/edge/test_evidence.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from PIL import Image
from relkit import ServiceProcess, seed
from sqlalchemy import create_engine, select

from api.db.models import Case, IngestedEvent
from detector.events import EventType, EvidenceKind, EvidenceRef, ModelInfo, ViolationEvent

ZONES = """\
camera: ev-cam
zones:
  - id: z-1
    merchant: m-ev
    kind: storefront
    polygon: [[0.1, 0.5], [0.4, 0.5], [0.4, 0.9], [0.1, 0.9]]
    forbid: [exposed_garbage]
"""


def jpeg(seed_value: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (seed_value % 256, 80, 160)).save(buf, "JPEG")
    return buf.getvalue()


def multipart_event(day: int, data: bytes) -> tuple[ViolationEvent, dict]:
    t = datetime(2026, 4, day, 9, tzinfo=UTC)
    ref = EvidenceRef(name="frame.jpg", kind=EvidenceKind.FRAME, content_type="image/jpeg",
                      sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    ev = ViolationEvent.for_episode(type=EventType.STARTED, seq=0, camera="ev-cam", zone="z-1",
                                    category="exposed_garbage", started_at=t, observed_at=t, confidence=0.8,
                                    model=ModelInfo(name="frontage-n", version="test"), evidence=[ref])
    files = {"event": (None, ev.model_dump_json(), "application/json"), "frame.jpg": ("frame.jpg", data, "image/jpeg")}
    return ev, files


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    if os.geteuid() == 0:
        proc = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        if proc.returncode:
            pytest.skip(f"cannot make a directory read-only as root here (chattr: {proc.stderr.strip()})")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        path.chmod(0o555)
        try:
            yield
        finally:
            path.chmod(0o755)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServiceProcess, str, Path]]:
    from api.db.migrate import upgrade

    tmp_path = tmp_path_factory.mktemp("evidence-disk")
    url = f"sqlite:///{tmp_path / 'frontage.db'}"
    upgrade(url)
    key = seed(url, [ZONES], {"edge-ev": ["ev-cam"]}).device_keys["edge-ev"]
    evidence_dir = tmp_path / "evidence"
    evidence_dir.mkdir()
    svc = ServiceProcess(url, tmp_path / "service.log", FRONTAGE_EVIDENCE_STORE="dir",
                         FRONTAGE_EVIDENCE_DIR=str(evidence_dir))
    with svc:
        yield svc, key, evidence_dir


def check_recorded(svc: ServiceProcess, ev: ViolationEvent, r: httpx.Response, fault: str) -> None:
    assert r.status_code != 500 and r.status_code < 600, f"{fault}: HTTP {r.status_code} {r.text}"
    engine = create_engine(svc.database_url)
    try:
        with engine.connect() as conn:
            stored = conn.scalar(select(IngestedEvent.case_id).where(IngestedEvent.idempotency_key == ev.idempotency_key))
            assert stored is not None, f"{fault}: the event was lost (HTTP {r.status_code} {r.text})"
            assert conn.scalar(select(Case.id).where(Case.id == stored)) is not None
    finally:
        engine.dispose()
    log = svc.log_tail(100_000)
    assert "Traceback" not in log, log[-3000:]


def test_read_only_evidence_dir_still_records_the_event(service) -> None:
    svc, key, evidence_dir = service
    ev, files = multipart_event(1, jpeg(1))
    with read_only(evidence_dir):
        r = httpx.post(svc.url + "/api/v1/events", files=files, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    check_recorded(svc, ev, r, "read-only evidence dir")
    assert str(evidence_dir) in svc.log_tail(100_000) or "evidence" in r.text.lower()


def test_full_evidence_disk_still_records_the_event(service) -> None:
    svc, key, evidence_dir = service
    data = jpeg(2)
    sha = hashlib.sha256(data).hexdigest()
    (evidence_dir / sha[:2]).mkdir()
    (evidence_dir / sha[:2] / f"{sha}.part").symlink_to("/dev/full")  # every write: ENOSPC
    ev, files = multipart_event(2, data)
    r = httpx.post(svc.url + "/api/v1/events", files=files, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    check_recorded(svc, ev, r, "evidence disk full")
    text = svc.log_tail(100_000) + r.text
    assert "No space left" in text or "disk full" in text.lower() or "ENOSPC" in text, text[-2000:]
