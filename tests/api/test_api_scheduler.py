"""The scheduler with several service processes on one PostgreSQL: 1,000 due cases, each escalated exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from apikit import free_port
from sqlalchemy import func, insert, select

from api.db.models import Camera, Case, CaseEvent, Notification, Zone

ROOT = Path(__file__).resolve().parents[2]
N_CASES = 1000


def start_service(database_url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "FRONTAGE_DATABASE_URL": database_url, "FRONTAGE_SECRET_KEY": "scheduler-test-key-" + "x" * 32, "FRONTAGE_SCHEDULER_INTERVAL_S": "0.2",
           "FRONTAGE_SCHEDULER_BATCH": "25", "FRONTAGE_AUTO_MIGRATE": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "api.main:app_from_env", "--host",
                             "127.0.0.1", "--port", str(port), "--log-level", "warning"], cwd=ROOT, env=env)
    return proc, f"http://127.0.0.1:{port}"


def wait_ready(url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "service process exited"
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("service did not become ready")


def test_two_service_processes_escalate_each_due_case_exactly_once(database_kind, database_url, app, world):
    if database_kind != "postgresql":
        pytest.skip("row locking across processes is a PostgreSQL property (SQLite has a single writer)")
    procs = [start_service(database_url) for _ in range(2)]
    try:
        for proc, url in procs:
            wait_ready(url, proc)
        now = app.state.clock.now()
        with app.state.session_factory.begin() as s:
            camera = s.scalar(select(Camera).where(Camera.code == world.cam_a))
            zone = s.scalar(select(Zone).where(Zone.camera_id == camera.id, Zone.code == world.zone_a))
            rows = [dict(version=1, state="notified", category="out_of_store_trading", camera_id=camera.id,
                         zone_id=zone.id, road_id=camera.road_id, merchant_id=zone.merchant_id, confidence=0.9,
                         escalation_level=0, max_escalation_level=0, self_rectified=False,
                         first_seen_at=now - timedelta(hours=3), last_seen_at=now - timedelta(hours=3),
                         created_at=now - timedelta(hours=3), updated_at=now - timedelta(hours=3),
                         notified_at=now - timedelta(hours=3), due_at=now - timedelta(minutes=1 + i % 50))
                    for i in range(N_CASES)]
            ids = list(s.scalars(insert(Case).returning(Case.id), rows))
        assert len(ids) == N_CASES
        deadline = time.monotonic() + 120
        escalated = 0
        while time.monotonic() < deadline:
            with app.state.session_factory() as s:
                escalated = s.scalar(select(func.count()).select_from(CaseEvent).where(
                    CaseEvent.case_id.in_(ids), CaseEvent.action == "escalate")) or 0
            if escalated >= N_CASES:
                break
            time.sleep(0.5)
        time.sleep(1.5)  # a few more passes from both processes: nothing may escalate twice
    finally:
        for proc, _ in procs:
            proc.terminate()
        for proc, _ in procs:
            proc.wait(timeout=30)
    with app.state.session_factory() as s:
        per_case = Counter(s.scalars(select(CaseEvent.case_id).where(
            CaseEvent.case_id.in_(ids), CaseEvent.action == "escalate")))
        actors = Counter(s.scalars(select(CaseEvent.actor).where(
            CaseEvent.case_id.in_(ids), CaseEvent.action == "escalate")))
        levels = Counter(s.scalars(select(Case.escalation_level).where(Case.id.in_(ids))))
        notices = s.scalar(select(func.count()).select_from(Notification).where(
            Notification.case_id.in_(ids), Notification.kind == "escalation")) or 0
    assert len(per_case) == N_CASES and set(per_case.values()) == {1}, "a case escalated zero or several times"
    assert levels == {1: N_CASES}
    assert notices == N_CASES
    print(f"escalations per process: {dict(actors)}")
    assert all(a.startswith("system:scheduler:") for a in actors)
