"""Outbox + sender against a real local HTTP receiver (stdlib http.server in a thread, real sockets)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from detector.events import EventType, EvidenceKind, EvidenceRef, ModelInfo, ViolationEvent
from detector.uplink import Outbox, Sender
from detector.uplink.config import UplinkConfig
from tests.helpers.receiver import EventReceiver

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


def event(i: int, evidence: list[EvidenceRef] | None = None) -> ViolationEvent:
    t = T0 + timedelta(minutes=i)
    return ViolationEvent.for_episode(
        type=EventType.STARTED, seq=0, camera="cam-01", zone="z-a", merchant="m-1",
        category="exposed_garbage", started_at=t, observed_at=t, confidence=0.7,
        model=ModelInfo(name="test", version="1"), evidence=evidence or [])


def wait_for(cond, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


@pytest.fixture()
def receiver():
    r = EventReceiver().start()
    yield r
    r.stop()


#: Retries in tenths of a second instead of seconds: outages in these tests last a moment.
FAST = UplinkConfig(retry_initial_s=0.05, retry_max_s=0.3, timeout_s=3)


def fast_sender(box: Outbox, url: str, **settings: float) -> Sender:
    """A sender with `FAST` settings (``settings`` override single fields)."""
    return Sender(box, url, "key-123", UplinkConfig(**{**FAST.model_dump(), **settings}), poll_s=0.2)


def test_service_down_then_back_delivers_each_once(tmp_path: Path, receiver: EventReceiver) -> None:
    receiver.stop()  # service down
    box = Outbox(tmp_path / "outbox.db")
    sender = fast_sender(box, receiver.url)
    sender.start()
    try:
        for i in range(5):
            assert box.put(event(i))
        sender.wake()
        assert wait_for(lambda: sender.failures >= 3)
        assert box.depth() == 5  # kept
        receiver.start()  # back on the same port
        assert sender.drain(20)
    finally:
        sender.stop()
    assert receiver.total_posts == 5 and len(receiver.unique_keys) == 5
    assert receiver.posts[0].authorization == "Bearer key-123"
    assert box.counts() == {"pending": 0, "sent": 5, "dead": 0}


def test_503_is_retried_and_4xx_is_parked(tmp_path: Path, receiver: EventReceiver) -> None:
    box = Outbox(tmp_path / "outbox.db")
    receiver.fail_status = 503
    sender = fast_sender(box, receiver.url)
    sender.start()
    try:
        box.put(event(0))
        assert wait_for(lambda: sender.failures >= 2)
        receiver.fail_status = None
        assert sender.drain(20)
        receiver.fail_status = 422
        box.put(event(1))
        sender.wake()
        assert wait_for(lambda: box.counts()["dead"] == 1)
    finally:
        sender.stop()
    assert box.counts() == {"pending": 0, "sent": 1, "dead": 1}
    key, reason = box.dead()[0]
    assert key == event(1).idempotency_key and "HTTP 422" in reason
    assert receiver.unique_keys == {event(0).idempotency_key}


def test_multipart_evidence_and_missing_file(tmp_path: Path, receiver: EventReceiver) -> None:
    jpg = tmp_path / "frame.jpg"
    jpg.write_bytes(b"\xff\xd8fake-jpeg\xff\xd9")
    refs = [
        EvidenceRef(name="frame.jpg", kind=EvidenceKind.FRAME, content_type="image/jpeg",
                    sha256=hashlib.sha256(jpg.read_bytes()).hexdigest(), size=jpg.stat().st_size),
        EvidenceRef(name="crop.jpg", kind=EvidenceKind.CROP, content_type="image/jpeg", sha256="0" * 64, size=3),
    ]
    box = Outbox(tmp_path / "outbox.db")
    box.put(event(0, refs), {"frame.jpg": jpg, "crop.jpg": tmp_path / "gone.jpg"})
    sender = fast_sender(box, receiver.url)
    sender.start()
    try:
        assert sender.drain(20)
    finally:
        sender.stop()
    (post,) = receiver.posts
    assert post.parts == {"frame.jpg": jpg.stat().st_size}
    assert [e["name"] for e in post.event["evidence"]] == ["frame.jpg"]  # the missing one is dropped, not the event


def test_put_is_idempotent_and_survives_reopen(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    assert box.put(event(0)) and not box.put(event(0))
    box.close()
    again = Outbox(tmp_path / "o.db")
    assert again.depth() == 1 and not again.put(event(0))


_CHILD = textwrap.dedent("""
    import sys, time
    from datetime import UTC, datetime, timedelta
    from detector.events import EventType, ModelInfo, ViolationEvent
    from detector.uplink import Outbox, Sender
    from detector.uplink.config import UplinkConfig
    db, url, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    box = Outbox(db)
    t0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
    for i in range(n):
        t = t0 + timedelta(minutes=i)
        box.put(ViolationEvent.for_episode(type=EventType.STARTED, seq=0, camera="cam-01", zone="z-a",
            category="exposed_garbage", started_at=t, observed_at=t, confidence=0.7,
            model=ModelInfo(name="test", version="1")))
    print("queued", flush=True)
    sender = Sender(box, url, config=UplinkConfig(retry_initial_s=0.05, retry_max_s=0.3), poll_s=0.2)
    sender.start()
    ok = sender.drain(60)
    sender.stop()
    print("drained" if ok else "not drained", flush=True)
""")


def test_sigkill_mid_delivery_loses_nothing(tmp_path: Path, receiver: EventReceiver) -> None:
    """SIGKILL the process that runs the outbox while it sends; a restart delivers the rest, none twice."""
    n = 12
    receiver.delay_s = 0.1  # slow service: the kill lands in the middle of the deliveries
    db = tmp_path / "outbox.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-c", _CHILD, str(db), receiver.url, str(n)]
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: receiver.total_posts >= 4, 60), child.stderr.read() if child.poll() is not None else ""
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    first_run = receiver.total_posts
    assert 4 <= first_run < n
    # the restarted process re-puts the same events (as a restarted edge would); only the rest go out
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert "drained" in out.stdout, out.stderr
    assert len(receiver.unique_keys) == n  # nothing lost
    assert receiver.total_posts <= n + 1  # at most the one request in flight at the kill was repeated


def test_depth_and_dead_metrics(tmp_path: Path) -> None:
    from detector import metrics

    box = Outbox(tmp_path / "m.db", on_depth=metrics.OUTBOX_DEPTH.set, on_dead=metrics.OUTBOX_DEAD.set)
    box.put(event(0))
    box.put(event(1))
    assert b"frontage_outbox_depth 2.0" in metrics.render()
    item = box.due()[0]
    box.mark_dead(item.id, "HTTP 400: bad")
    assert b"frontage_outbox_depth 1.0" in metrics.render() and b"frontage_outbox_dead 1.0" in metrics.render()


def test_refused_evidence_sends_the_event_alone(tmp_path: Path, receiver: EventReceiver) -> None:
    jpg = tmp_path / "frame.jpg"
    jpg.write_bytes(b"\xff\xd8big\xff\xd9")
    ref = EvidenceRef(name="frame.jpg", kind=EvidenceKind.FRAME, content_type="image/jpeg",
                      sha256=hashlib.sha256(jpg.read_bytes()).hexdigest(), size=jpg.stat().st_size)
    receiver.refuse_evidence = 413
    box = Outbox(tmp_path / "outbox.db")
    box.put(event(0, [ref]), {"frame.jpg": jpg})
    sender = fast_sender(box, receiver.url)
    sender.start()
    try:
        assert sender.drain(20)
    finally:
        sender.stop()
    (post,) = receiver.posts
    assert post.parts == {} and post.event["evidence"] == []
    assert box.counts()["sent"] == 1
