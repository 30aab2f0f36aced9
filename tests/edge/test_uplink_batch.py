"""Batched uplink: runs of JSON-only events go to /api/v1/events/batch, in order, each event's verdict applied."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from test_uplink import event, fast_sender, wait_for

from detector.events import EvidenceKind, EvidenceRef
from detector.uplink import Outbox, Sender
from tests.helpers.receiver import EventReceiver


@pytest.fixture()
def receiver():
    r = EventReceiver()
    r.accept_batches = True
    r.start()
    yield r
    r.stop()


def drain(sender: Sender, timeout: float = 20) -> None:
    sender.start()
    try:
        assert sender.drain(timeout)
    finally:
        sender.stop()


def with_frame(tmp_path: Path, i: int) -> tuple:
    jpg = tmp_path / f"frame-{i}.jpg"
    jpg.write_bytes(b"\xff\xd8fake\xff\xd9")
    ref = EvidenceRef(name="frame.jpg", kind=EvidenceKind.FRAME, content_type="image/jpeg",
                      sha256=hashlib.sha256(jpg.read_bytes()).hexdigest(), size=jpg.stat().st_size)
    return event(i, [ref]), {"frame.jpg": jpg}


def test_json_runs_go_in_batches_and_evidence_alone_in_order(tmp_path: Path, receiver: EventReceiver) -> None:
    box = Outbox(tmp_path / "outbox.db")
    keys = []
    for i in range(11):
        ev, files = with_frame(tmp_path, i) if i == 3 else (event(i), None)
        assert box.put(ev, files)
        keys.append(ev.idempotency_key)
    sender = fast_sender(box, receiver.url, batch_size=4)
    drain(sender)
    assert receiver.batch_sizes == [3, 4, 3]  # e0-e2 | e3 alone (multipart) | e4-e7 | e8-e10
    assert [p.key for p in receiver.posts] == keys  # the outbox order, evidence event included
    assert receiver.posts[3].parts == {"frame.jpg": 8}
    assert box.counts() == {"pending": 0, "sent": 11, "dead": 0} and sender.sent == 11
    assert {p.authorization for p in receiver.posts} == {"Bearer key-123"}


def test_each_event_of_a_batch_gets_its_own_verdict(tmp_path: Path, receiver: EventReceiver) -> None:
    box = Outbox(tmp_path / "outbox.db")
    events = [event(i) for i in range(5)]
    for ev in events:
        box.put(ev)
    receiver.refuse_keys = {events[1].idempotency_key: 422, events[2].idempotency_key: 429}
    sender = fast_sender(box, receiver.url)
    sender.start()
    try:
        assert wait_for(lambda: box.counts()["sent"] == 3 and box.counts()["dead"] == 1)
        assert box.depth() == 1  # the 429 waits for its retry
        del receiver.refuse_keys[events[2].idempotency_key]
        assert sender.drain(20)
    finally:
        sender.stop()
    ((key, reason),) = box.dead()
    assert key == events[1].idempotency_key and reason.startswith("HTTP 422")
    assert receiver.unique_keys == {e.idempotency_key for e in events} - {key}
    assert receiver.total_posts == 4  # nobody sent twice


def test_lost_batch_answer_is_resent_and_stays_exactly_once(tmp_path: Path, receiver: EventReceiver) -> None:
    box = Outbox(tmp_path / "outbox.db")
    for i in range(6):
        box.put(event(i))
    receiver.delay_s = 0.6  # longer than the sender's timeout: the service stores the batch, the answer is lost
    sender = fast_sender(box, receiver.url, timeout_s=0.3)
    sender.start()
    try:
        assert wait_for(lambda: sender.failures >= 6 and receiver.batch_posts >= 1)
        assert box.depth() == 6  # not marked sent without an answer
        receiver.delay_s = 0
        assert sender.drain(20)
    finally:
        sender.stop()
    assert len(receiver.unique_keys) == 6 and box.counts()["sent"] == 6  # repeats are no-ops at the service


def test_service_without_batch_endpoint_gets_one_event_per_request(tmp_path: Path) -> None:
    old = EventReceiver().start()  # accept_batches off: the batch path answers 404
    try:
        box = Outbox(tmp_path / "outbox.db")
        for i in range(5):
            box.put(event(i))
        items = box.due()
        sender = fast_sender(box, old.url)
        assert [len(g) for g in sender.plan(items)] == [5]
        drain(sender)
        assert not sender.batching()  # remembered: later events do not probe the batch path again
        assert [len(g) for g in sender.plan(items)] == [1] * 5
    finally:
        old.stop()
    assert old.total_posts == 5 and old.batch_posts == 0 and box.counts()["sent"] == 5


def test_5xx_on_a_batch_retries_every_event_of_it(tmp_path: Path, receiver: EventReceiver) -> None:
    box = Outbox(tmp_path / "outbox.db")
    for i in range(4):
        box.put(event(i))
    receiver.fail_status = 503
    sender = fast_sender(box, receiver.url)
    sender.start()
    try:
        assert wait_for(lambda: sender.failures >= 8)
        assert box.depth() == 4 and receiver.total_posts == 0
        receiver.fail_status = None
        assert sender.drain(20)
    finally:
        sender.stop()
    # one backoff for the whole failed batch: its events come due together and go again as one batch
    # (per-row jitter used to splinter them into single requests)
    assert receiver.batch_sizes == [4] and receiver.total_posts == 4 and box.counts()["sent"] == 4


def test_sender_takes_the_edge_yaml_uplink_settings_whole(tmp_path: Path) -> None:
    from detector.config import EdgeConfig
    from detector.uplink.config import UplinkConfig

    assert EdgeConfig.model_fields["uplink"].annotation is UplinkConfig  # one class, beside the sender
    box = Outbox(tmp_path / "outbox.db")
    for i in range(7):
        box.put(event(i))
    sender = Sender(box, "http://127.0.0.1:9", "key-123", UplinkConfig(batch_size=3, retry_initial_s=2,
                                                                      retry_max_s=4))
    assert [len(g) for g in sender.plan(box.due())] == [3, 3, 1]
    assert all(1.0 <= sender.backoff(attempts) <= 4.0 for attempts in range(6))


def test_a_batch_that_breaks_the_service_goes_one_by_one_and_the_rest_lands(tmp_path: Path,
                                                                          receiver: EventReceiver) -> None:
    """An older service answered 500 to a whole batch for one event it could not store: the edge retried
    the batch for ever and nothing of it landed. Now a 500 splits it; the bad event waits (or is parked
    once the service calls it invalid) on its own."""
    box = Outbox(tmp_path / "outbox.db")
    events = [event(i) for i in range(5)]
    for ev in events:
        box.put(ev)
    bad = events[2].idempotency_key
    receiver.poison_keys = {bad: 500}
    sender = fast_sender(box, receiver.url)
    sender.start()
    try:
        assert wait_for(lambda: box.counts()["sent"] == 4)
        assert box.depth() == 1 and box.counts()["dead"] == 0  # a 500 alone: retried, not dropped
        receiver.poison_keys = {bad: 422}  # the fixed service says what is wrong with it
        assert wait_for(lambda: box.counts()["dead"] == 1)
    finally:
        sender.stop()
    ((key, reason),) = box.dead()
    assert key == bad and reason.startswith("HTTP 422")
    assert receiver.unique_keys == {e.idempotency_key for e in events} - {bad}
