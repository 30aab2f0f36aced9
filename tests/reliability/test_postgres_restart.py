"""PostgreSQL crashes and restarts under load: our own throwaway cluster (initdb + pg_ctl on a free port; the
machine's shared cluster is never touched), the case service as a uvicorn subprocess, a client thread
posting edge events the whole time.

While the database is gone the service answers 503 with Retry-After (never 500, never a hang), /healthz
stays 200 and /readyz says 503; after the restart it recovers by itself (no service restart). Afterwards no
case is half-written: every case has its episode, its ingested event and its creation audit row, and every
event the service acknowledged (2xx) is stored exactly once; events refused with 503 are accepted on retry.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pgtemp import TempPostgres, pg_bin
from relkit import ServiceProcess, seed, wait_for
from sqlalchemy import create_engine, func, select

from api.db.models import Case, CaseEvent, Episode, IngestedEvent
from detector.events import EventType, ModelInfo, ViolationEvent

pytestmark = pytest.mark.slow
ZONES = """\
camera: pg-cam
zones:
  - id: z-1
    merchant: m-pg
    kind: storefront
    polygon: [[0.1, 0.5], [0.4, 0.5], [0.4, 0.9], [0.1, 0.9]]
    forbid: [out_of_store_trading]
"""
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def make_event(i: int) -> ViolationEvent:
    t = T0 + timedelta(hours=2 * i)  # two hours apart: outside the attach window, one case each
    return ViolationEvent.for_episode(type=EventType.STARTED, seq=0, camera="pg-cam", zone="z-1",
                                      category="out_of_store_trading", started_at=t, observed_at=t, confidence=0.7,
                                      model=ModelInfo(name="frontage-n", version="test"))


class Load(threading.Thread):
    """Posts new events back to back and records each answer (status per idempotency key)."""

    def __init__(self, url: str, key: str) -> None:
        super().__init__(daemon=True)
        self.url, self.key = url, key
        self.answers: list[tuple[str, int | str, dict[str, str]]] = []
        self.stop_evt = threading.Event()
        self.events: dict[str, ViolationEvent] = {}

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        i = 0
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self.stop_evt.is_set():
                ev = make_event(i)
                i += 1
                self.events[ev.idempotency_key] = ev
                try:
                    r = client.post("/api/v1/events", content=ev.model_dump_json(), headers=headers)
                    self.answers.append((ev.idempotency_key, r.status_code, dict(r.headers)))
                except httpx.HTTPError as exc:
                    self.answers.append((ev.idempotency_key, type(exc).__name__, {}))
                time.sleep(0.02)

    def statuses(self) -> Counter:
        return Counter(s for _, s, _ in self.answers)


@pytest.fixture()
def own_postgres():
    if pg_bin() is None:
        pytest.skip("PostgreSQL server binaries (/usr/lib/postgresql/*/bin) are not installed")
    pg = TempPostgres().init()
    pg.start()
    try:
        yield pg
    finally:
        pg.destroy()


def test_postgres_restart_under_load(own_postgres: TempPostgres, tmp_path: Path) -> None:
    from api.db.migrate import upgrade

    pg = own_postgres
    upgrade(pg.url)
    seeded = seed(pg.url, [ZONES], {"edge-pg": ["pg-cam"]})
    service = ServiceProcess(pg.url, tmp_path / "service.log")
    load = Load(service.url, seeded.device_keys["edge-pg"])
    engine = create_engine(pg.url)
    try:
        service.start()
        load.start()
        assert wait_for(lambda: load.statuses()[201] >= 10, 60), load.statuses()
        pg.stop("immediate")  # a crash: no shutdown checkpoint
        down_from = len(load.answers)
        assert wait_for(lambda: load.statuses()[503] >= 5, 60), (load.statuses(), service.log_tail())
        health = httpx.get(service.url + "/healthz", timeout=10)
        ready = httpx.get(service.url + "/readyz", timeout=10)
        assert health.status_code == 200 and ready.status_code == 503, (health.text, ready.text)
        outage = load.answers[down_from:]
        assert all(s in (201, 503) for _, s, _ in outage), Counter(s for _, s, _ in outage)
        assert all(h.get("retry-after") for _, s, h in outage if s == 503)

        pg.start()
        restarted_at = time.monotonic()
        recovered_from = len(load.answers)
        assert wait_for(lambda: Counter(s for _, s, _ in load.answers[recovered_from:])[201] >= 5, 60), (
            load.statuses(), service.log_tail())
        print(f"answers: {dict(load.statuses())}; 201 again {time.monotonic() - restarted_at:.1f} s after the restart")
        load.stop_evt.set()
        load.join(20)
        assert service.proc is not None and service.proc.poll() is None, "the service died with its database"
        assert httpx.get(service.url + "/readyz", timeout=10).status_code == 200

        statuses = load.statuses()
        assert set(statuses) <= {201, 503}, statuses  # never a 500, never a dropped connection
        acknowledged = {k for k, s, _ in load.answers if s == 201}
        refused = [k for k, s, _ in load.answers if s == 503]
        with engine.connect() as conn:
            stored = list(conn.scalars(select(IngestedEvent.idempotency_key)))
            n_cases = conn.scalar(select(func.count()).select_from(Case))
            complete = conn.scalar(
                select(func.count()).select_from(Case)
                .where(select(Episode.id).where(Episode.case_id == Case.id).exists())
                .where(select(IngestedEvent.id).where(IngestedEvent.case_id == Case.id).exists())
                .where(select(CaseEvent.id).where(CaseEvent.case_id == Case.id).exists()))
        assert len(stored) == len(set(stored)) and set(stored) == acknowledged, "acknowledged != stored"
        assert n_cases == complete == len(acknowledged), (n_cases, complete, len(acknowledged))
        # The edge's retry of a 503'd event is accepted (nothing half-stored blocks it).
        headers = {"Authorization": f"Bearer {seeded.device_keys['edge-pg']}", "Content-Type": "application/json"}
        for key in refused[:5]:
            r = httpx.post(service.url + "/api/v1/events", content=load.events[key].model_dump_json(),
                           headers=headers, timeout=10)
            assert r.status_code == 201, r.text
        log = service.log_tail(200_000)
        assert "Traceback" not in log, log[-3000:]
    finally:
        load.stop_evt.set()
        service.stop()
        engine.dispose()
