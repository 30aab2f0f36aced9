"""Crashes between the edge and the case service, with every part real: ``frontage edge`` (real footage, the
real COCO model, the durable SQLite outbox) and the case service (uvicorn subprocess on PostgreSQL).

One run, in this order: the service is SIGKILLed while the edge keeps producing events, and restarted: the
running edge delivers its backlog. The service is SIGKILLed again and, while it is down, the edge is
SIGKILLed too; the outbox file must be intact. Both come back; every event
the edge ever recorded is delivered exactly once (counted server-side in ``ingested_events``), and the
episodes the restarted edge re-derives land on the same cases (no duplicated or restarted case).

The two cameras are the same real clip played like live cameras (``realtime: true, loop: true``): episode
times are wall-clock times, as on a real box, so a restarted edge starts new edge episodes, which the
service must attach to the open cases.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from pathlib import Path

import pytest
from relkit import EdgeProcess, ServiceProcess, free_port, seed, wait_for
from sqlalchemy import create_engine, select

from api.db.models import Case, Episode, IngestedEvent

pytestmark = pytest.mark.slow
CAMERAS = ("rel-cam-1", "rel-cam-2")
ZONES = """\
camera: {camera}
defaults: {{dwell_s: 2, clear_s: 30, grace_s: 10}}
zones:
  - id: parking
    merchant: m-rel-{camera}
    kind: parking
    polygon: [[0.8, 0.0], [1.0, 0.0], [1.0, 0.25], [0.8, 0.25]]
    forbid: [disorderly_parking]
"""
CARS = "model: coco-cars\ndefault: ignore\nclasses: {car: disorderly_parking, truck: disorderly_parking}\n"


def edge_yaml(service_url: str, model: Path, clip: Path) -> str:
    cams = "\n".join(f"  - {{id: {c}, url: {clip}, zones: {c}.zones.yaml, analysis_fps: 1, realtime: true, loop: true}}"
                     for c in CAMERAS)
    return (f"service_url: {service_url}\ndevice_id: edge-rel\nmodel: {{path: {model}}}\nclasses: cars.classes.yaml\n"
            f"gating: {{enabled: false}}\ncameras:\n{cams}\noutbox: outbox.db\nevidence_dir: evidence\nclip_s: 0\n"
            # retries capped at 5 s: after each outage the backlog goes out within seconds of the service's
            # return, however long the outage lasted on a loaded CI box (the default cap is 60 s)
            "update_every_s: 1\nuplink: {retry_initial_s: 0.5, retry_max_s: 5}\n")


def outbox_rows(path: Path) -> dict[str, str]:
    """idempotency key -> status, read through a separate read-only connection (as an operator would)."""
    if not path.exists():
        return {}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return dict(db.execute("SELECT idempotency_key, status FROM outbox").fetchall())
    except sqlite3.OperationalError:
        return {}
    finally:
        db.close()


def server_keys(engine) -> list[str]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return list(conn.scalars(select(IngestedEvent.idempotency_key)))


def test_service_and_edge_crash_deliver_every_event_once(pg_url: str, street_clip: Path, coco_model: Path,
                                                         tmp_path: Path) -> None:
    seeded = seed(pg_url, [ZONES.format(camera=c) for c in CAMERAS], {"edge-rel": list(CAMERAS)})
    port = free_port()
    service = ServiceProcess(pg_url, tmp_path / "service.log", port=port)
    (tmp_path / "cars.classes.yaml").write_text(CARS)
    for c in CAMERAS:
        (tmp_path / f"{c}.zones.yaml").write_text(ZONES.format(camera=c))
    config = tmp_path / "edge.yaml"
    config.write_text(edge_yaml(service.url, coco_model, street_clip))
    outbox = tmp_path / "outbox.db"
    edge = EdgeProcess(config, tmp_path / "edge.log", seeded.device_keys["edge-rel"])
    engine = create_engine(pg_url)
    try:
        service.start()
        edge.start()
        assert wait_for(lambda: len(server_keys(engine)) >= 2, 120, 0.3), edge.log()[-3000:]

        # 1. The service crashes for a while; the edge keeps recording events in its outbox and, once the
        #    service is back, the same edge process delivers all of them.
        service.kill()
        assert wait_for(lambda: Counter(outbox_rows(outbox).values())["pending"] >= 3, 60, 0.3), edge.log()[-3000:]
        assert edge.proc is not None and edge.proc.poll() is None, "the edge died when the service went away"
        backlog = {k for k, st in outbox_rows(outbox).items() if st == "pending"}
        back_at = time.monotonic()
        service.start()
        assert wait_for(lambda: backlog <= set(server_keys(engine)), 90, 0.5), (
            sorted(backlog - set(server_keys(engine))), edge.log()[-3000:])
        print(f"outage 1: {len(backlog)} events queued, delivered {time.monotonic() - back_at:.1f} s after the "
              "service came back")
        keys = server_keys(engine)
        assert len(keys) == len(set(keys))

        # The service crashes again and stays down ...
        service.kill()
        delivered_before_outage = set(server_keys(engine))
        assert wait_for(lambda: Counter(outbox_rows(outbox).values())["pending"] >= 2, 60, 0.3), edge.log()[-3000:]

        # 2. The edge crashes too, mid-run, with undelivered events.
        edge.kill()
        db = sqlite3.connect(outbox)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()
        recorded = outbox_rows(outbox)
        pending_at_crash = {k for k, s in recorded.items() if s == "pending"}
        assert len(pending_at_crash) >= 2
        assert pending_at_crash.isdisjoint(delivered_before_outage)

        # 3. Both come back (the service on the same address).
        back_at = time.monotonic()
        service.start()
        edge.start()
        # Everything recorded before the crashes arrives, and the restarted edge produces new events.
        assert wait_for(lambda: set(recorded) <= set(server_keys(engine)), 90, 0.5), (
            sorted(set(recorded) - set(server_keys(engine))), edge.log()[-3000:])
        print(f"{len(recorded)} events recorded before the crashes ({len(pending_at_crash)} pending), all delivered "
              f"{time.monotonic() - back_at:.1f} s after the restart of both")
        assert wait_for(lambda: len(set(outbox_rows(outbox)) - set(recorded)) >= 2, 120, 0.5), edge.log()[-3000:]
        edge.stop()  # SIGTERM: drains briefly, exits cleanly
        assert edge.proc is not None and edge.proc.returncode == 0, edge.log()[-3000:]
        final = outbox_rows(outbox)
        sent = {k for k, s in final.items() if s == "sent"}
        assert wait_for(lambda: sent <= set(server_keys(engine)), 10)

        # Server side: each event once (the outbox's sent rows == the service's ingested rows), nothing dead.
        keys = server_keys(engine)
        assert len(keys) == len(set(keys))
        assert set(keys) == sent, (sorted(set(keys) ^ sent))
        assert Counter(final.values())["dead"] == 0, final
        with engine.connect() as conn:
            cases = conn.execute(select(Case.id, Case.camera_id, Case.first_seen_at, Case.created_at)).all()
            episodes = conn.execute(select(Episode.episode_id, Episode.case_id)).all()
        # One case per camera: the restarted edge's new episodes attached to the open cases.
        assert len(cases) == len(CAMERAS), cases
        assert {case_id for _, case_id in episodes} == {c.id for c in cases}
        assert len(episodes) >= len(CAMERAS) + 1, "the restarted edge's episodes never reached the service"
        edge_log = edge.log()
        assert "Traceback" not in edge_log, edge_log[-3000:]
    finally:
        edge.stop()
        service.stop()
        engine.dispose()
