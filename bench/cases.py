"""Case service: ingest events/s and queue latency with many cases, on PostgreSQL and SQLite.

The service runs for real: ``uvicorn --factory api.main:app_from_env`` in its own process (one worker, the
scheduler off so that its passes do not mix into the figures), driven over HTTP by httpx.

* Cases are bulk-loaded straight into the service's own tables (``api.db.models``; schema by its Alembic
  migrations): COPY on PostgreSQL, executemany on SQLite. 1,000,000 (``--quick``: 100,000), spread over a
  year, in realistic states. The databases are kept between runs (``frontage_bench`` on PostgreSQL,
  ``var/bench/cases.sqlite``) and only topped up.
* Ingest: ``POST /api/v1/events`` (JSON, new episodes on the seeded cameras) from 16 edge boxes at once (one
  device key each); baseline: one client, one event after the other. Also 16 clients on one device key, and
  ``POST /api/v1/events/batch`` from the same 16 boxes, 50 events per request (an uplink catching up), each
  box on its own cameras as deployed (the single-event runs spread every box over all cameras).
* Queue: ``GET /api/v1/cases`` as the operator console asks it (default page, state / category / camera /
  road filters, and keyset pagination 10 pages deep), one request at a time: p50 and p99 of the latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import ROOT, BenchError, Context, Row, percentile

PG_ADMIN_URL = os.environ.get("FRONTAGE_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
PG_URL = os.environ.get("FRONTAGE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/frontage_bench")
SQLITE_PATH = ROOT / "var" / "bench" / "cases.sqlite"
N_CAMERAS = 100
ZONES_PER_CAMERA = 10
N_ROADS = 20
N_CLIENTS = 16  # concurrent ingest clients: one edge box each (a box's uplink sends one event at a time)
BATCH_SIZE = 50  # events per POST /api/v1/events/batch (the uplink sends up to this many when it has a backlog)
CATEGORIES = ["out_of_store_trading", "exposed_garbage", "disorderly_parking", "stacked_materials", "street_vending"]
# Share of cases per state in a year of operation: most are done with.
STATES = [("closed", 0.62), ("rejected", 0.14), ("detected", 0.04), ("confirmed", 0.03), ("notified", 0.06),
          ("merchant_reported_fixed", 0.02), ("escalated", 0.05), ("verified", 0.01), ("recheck", 0.02),
          ("reopened", 0.01)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- databases -------------------------------------------------------------------------------------------
def ensure_pg_database() -> str:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'frontage_bench'").fetchone()
            if not exists:
                conn.execute("CREATE DATABASE frontage_bench")
    except Exception as exc:
        raise BenchError(f"PostgreSQL at 127.0.0.1:5432 unusable: {str(exc).splitlines()[0]}") from None
    return PG_URL


def seed_reference(url: str) -> dict[str, Any]:
    """Migrate, then cameras/zones/merchants/roads (once), a fresh device and operator; returns ids and keys."""
    from sqlalchemy import func, select

    from api.db.migrate import upgrade
    from api.db.models import Camera, Zone
    from api.db.session import make_engine, make_session_factory, session_scope
    from api.security import Passwords
    from api.services.registration import apply_zones, create_device, create_user
    from detector.zones.schema import parse_zones

    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    now = datetime.now(UTC)
    codes = [f"bench-cam-{i:03d}" for i in range(N_CAMERAS)]
    with session_scope(factory) as s:
        have = s.scalar(select(func.count()).select_from(Camera).where(Camera.code.like("bench-cam-%"))) or 0
        if have < N_CAMERAS:
            for i, code in enumerate(codes):
                zones = []
                for z in range(ZONES_PER_CAMERA):
                    x0 = z / ZONES_PER_CAMERA
                    zones.append({"id": f"z-{z:02d}", "merchant": f"bench-m-{i:03d}-{z:02d}", "kind": "storefront",
                                  "polygon": [[x0, 0.5], [x0 + 0.09, 0.5], [x0 + 0.09, 0.9], [x0, 0.9]],
                                  "forbid": CATEGORIES})
                apply_zones(s, parse_zones({"camera": code, "zones": zones}), now, road=f"Bench Road {i % N_ROADS:02d}")
        tag = uuid.uuid4().hex[:8]
        keys = [create_device(s, f"bench-edge-{tag}-{d:02d}", codes, now)[1] for d in range(N_CLIENTS)]
        password = uuid.uuid4().hex
        create_user(s, Passwords(1, 64), f"bench-op-{tag}", password, "operator", now)
        rows = s.execute(select(Zone.id, Zone.camera_id, Zone.merchant_id, Camera.road_id, Camera.code, Zone.code)
                         .join(Camera, Zone.camera_id == Camera.id).where(Camera.code.like("bench-cam-%"))).all()
    engine.dispose()
    return {"device_keys": keys, "username": f"bench-op-{tag}", "password": password,
            "zones": [tuple(r) for r in rows]}


def case_rows(n: int, zones: list[tuple], start_index: int, rng: random.Random) -> list[tuple]:
    """``n`` cases as tuples in CASE_COLUMNS order, created over the last 365 days."""
    now = datetime.now(UTC)
    states, weights = zip(*STATES, strict=True)
    out = []
    for i in range(n):
        zone_id, camera_id, merchant_id, road_id, _, _ = zones[rng.randrange(len(zones))]
        created = now - timedelta(seconds=rng.uniform(60, 365 * 86400))
        state = rng.choices(states, weights)[0]
        level = rng.randint(1, 3) if state == "escalated" else 0
        seen = created + timedelta(seconds=rng.uniform(30, 7200))
        due = created + timedelta(hours=2) if state in ("notified", "escalated", "confirmed") else None
        out.append((1, state, rng.choice(CATEGORIES), camera_id, zone_id, road_id, merchant_id,
                    round(rng.uniform(0.3, 0.99), 3), level, level, state == "closed" and rng.random() < 0.8,
                    "frontage-n", "bench", created, seen, created, seen, due))
        del i
    return out


CASE_COLUMNS = ["version", "state", "category", "camera_id", "zone_id", "road_id", "merchant_id", "confidence",
                "escalation_level", "max_escalation_level", "self_rectified", "model_name", "model_version",
                "first_seen_at", "last_seen_at", "created_at", "updated_at", "due_at"]


def count_cases(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        n = int(conn.execute(text("SELECT count(*) FROM cases")).scalar() or 0)
    engine.dispose()
    return n


def bulk_load(url: str, target: int, zones: list[tuple], log: Any) -> dict[str, Any]:
    """Top the cases table up to ``target`` rows; returns what was done and how long it took."""
    have = count_cases(url)
    missing = target - have
    info: dict[str, Any] = {"cases_before": have, "inserted": max(0, missing), "load_s": 0.0}
    if missing <= 0:
        return info
    log(f"cases: bulk-loading {missing:,} cases into {url.split('://')[0]}")
    rng = random.Random(have)
    started = time.perf_counter()
    chunk = 100_000
    if url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn, conn.cursor() as cur:
            with cur.copy(f"COPY cases ({', '.join(CASE_COLUMNS)}) FROM STDIN") as copy:
                for start in range(0, missing, chunk):
                    for row in case_rows(min(chunk, missing - start), zones, have + start, rng):
                        copy.write_row(row)
            conn.commit()
            conn.autocommit = True
            conn.execute("ANALYZE cases")
    else:
        import sqlite3

        db = url.split("sqlite:///", 1)[1]
        conn = sqlite3.connect(db)
        marks = ", ".join("?" * len(CASE_COLUMNS))
        sql = f"INSERT INTO cases ({', '.join(CASE_COLUMNS)}) VALUES ({marks})"

        def sqlite_row(row: tuple) -> tuple:  # UTCDateTime stores naive UTC on SQLite
            return tuple(v.replace(tzinfo=None).isoformat(sep=" ") if isinstance(v, datetime) else v for v in row)

        for start in range(0, missing, chunk):
            conn.executemany(sql, [sqlite_row(r) for r in case_rows(min(chunk, missing - start), zones, have + start, rng)])
            conn.commit()
        conn.execute("ANALYZE")
        conn.commit()
        conn.close()
    info["load_s"] = round(time.perf_counter() - started, 1)
    return info


# -- the server ------------------------------------------------------------------------------------------
class Server:
    """``uvicorn --factory api.main:app_from_env`` in a child process."""

    def __init__(self, url: str, workers: int = 1) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "FRONTAGE_DATABASE_URL": url, "FRONTAGE_SCHEDULER_ENABLED": "false",
               "FRONTAGE_AUTO_MIGRATE": "false", "FRONTAGE_DB_POOL_SIZE": "10", "PYTHONPATH": str(ROOT)}
        self.log_path = ROOT / "var" / "bench" / f"uvicorn-{self.port}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "api.main:app_from_env", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning", "--no-access-log", "--workers", str(workers)],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        tail = self.log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise BenchError(f"the case service did not start: {tail[0][:200]}")

    def cpu_seconds(self) -> float:
        """CPU seconds the server process has used (all its threads), from /proc; 0 where unavailable."""
        total = 0.0
        pids = [self.proc.pid]
        with contextlib.suppress(OSError, ValueError):  # with --workers, the workers are the supervisor's children
            pids += [int(p) for p in Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()]
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            except (OSError, ValueError, IndexError):
                pass
        return total

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


# -- load ------------------------------------------------------------------------------------------------
def make_events(n: int, zones: list[tuple]) -> list[str]:
    """JSON bodies of ``n`` violation_started events on random seeded zones (new episodes)."""
    from detector.categories import Category
    from detector.events import EventType, ModelInfo, ViolationEvent

    rng = random.Random()
    model = ModelInfo(name="frontage-n", version="bench")
    base = datetime.now(UTC)
    out = []
    for i in range(n):
        _, _, _, _, cam, zone = zones[rng.randrange(len(zones))]
        t = base + timedelta(microseconds=i)
        ev = ViolationEvent.for_episode(type=EventType.STARTED, seq=0, camera=cam, zone=zone,
                                        category=Category(rng.choice(CATEGORIES)), started_at=t, observed_at=t,
                                        confidence=0.8, model=model, frame_size=(1280, 720))
        out.append(ev.model_dump_json())
    return out


async def post_events(base: str, keys: list[str], bodies: list[str], concurrency: int) -> dict[str, Any]:
    """POST the bodies from ``concurrency`` clients; client i authenticates with ``keys[i % len(keys)]``."""
    import httpx

    queue = list(bodies)
    codes: dict[int, int] = {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        async def worker(i: int) -> None:
            headers = {"Authorization": f"Bearer {keys[i % len(keys)]}", "Content-Type": "application/json"}
            while queue:
                body = queue.pop()
                r = await client.post("/api/v1/events", content=body, headers=headers)
                codes[r.status_code] = codes.get(r.status_code, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        wall = time.perf_counter() - started
    return {"events": len(bodies), "seconds": wall, "events_per_s": len(bodies) / wall, "status": codes}


def events_per_box(n: int, zones: list[tuple], boxes: int) -> list[list[str]]:
    """``n`` new-episode events split over ``boxes`` edge boxes, each reporting for its own cameras (as
    deployed: a camera belongs to one box), so that two boxes' batches never update the same case."""
    cameras = sorted({z[4] for z in zones})
    per_box = [[z for z in zones if cameras.index(z[4]) % boxes == b] for b in range(boxes)]
    return [make_events(n // boxes + (b < n % boxes), per_box[b]) for b in range(boxes)]


async def post_batches(base: str, keys: list[str], bodies_per_box: list[list[str]],
                       batch_size: int) -> dict[str, Any]:
    """Box i POSTs its bodies ``batch_size`` at a time to the batch endpoint; status counts are per event."""
    import httpx

    codes: dict[int, int] = {}
    boxes = len(bodies_per_box)
    limits = httpx.Limits(max_connections=boxes, max_keepalive_connections=boxes)

    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        async def box(i: int) -> None:
            headers = {"Authorization": f"Bearer {keys[i % len(keys)]}", "Content-Type": "application/json"}
            bodies = bodies_per_box[i]
            for start in range(0, len(bodies), batch_size):
                chunk = bodies[start:start + batch_size]
                r = await client.post("/api/v1/events/batch", content='{"events": [' + ",".join(chunk) + "]}",
                                      headers=headers)
                if r.status_code != 200:
                    codes[r.status_code] = codes.get(r.status_code, 0) + len(chunk)
                    continue
                for result in r.json()["results"]:
                    codes[result["status"]] = codes.get(result["status"], 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(box(i) for i in range(boxes)))
        wall = time.perf_counter() - started
    n = sum(len(b) for b in bodies_per_box)
    return {"events": n, "batch_size": batch_size, "seconds": wall, "events_per_s": n / wall, "status": codes}


def queue_requests(zones: list[tuple]) -> list[dict[str, Any]]:
    """The queries the operator console makes, with realistic filters."""
    cam = zones[0][4]
    return [
        {},
        {"state": "detected"},
        {"state": ["detected", "confirmed"], "category": "exposed_garbage"},
        {"camera": cam},
        {"road": "Bench Road 03", "state": "notified"},
        {"state": "escalated", "sort": "-updated_at"},
        {"overdue": "true"},
    ]


def measure_queue(base: str, token: str, zones: list[tuple], n: int) -> dict[str, Any]:
    import httpx

    latencies: dict[str, list[float]] = {}
    errors = 0
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        variants = queue_requests(zones)
        for params in variants:  # warm-up: plans, caches, pool
            client.get("/api/v1/cases", params=params)
        i = 0
        while sum(len(v) for v in latencies.values()) < n:
            params = variants[i % len(variants)]
            i += 1
            name = "&".join(f"{k}={v}" for k, v in params.items()) or "default"
            t = time.perf_counter()
            r = client.get("/api/v1/cases", params=params)
            latencies.setdefault(name, []).append(time.perf_counter() - t)
            errors += r.status_code != 200
            if i % len(variants) == 0:  # keyset pagination: 10 pages deep
                page = client.get("/api/v1/cases", params={"limit": 50}).json()
                cursor = page.get("next_cursor")
                for _ in range(10):
                    if not cursor:
                        break
                    t = time.perf_counter()
                    r = client.get("/api/v1/cases", params={"limit": 50, "cursor": cursor})
                    latencies.setdefault("keyset page 2-11", []).append(time.perf_counter() - t)
                    errors += r.status_code != 200
                    cursor = r.json().get("next_cursor") if r.status_code == 200 else None
    every = [x for v in latencies.values() for x in v]
    return {"requests": len(every), "errors": errors, "p50_ms": percentile(every, 50) * 1000,
            "p99_ms": percentile(every, 99) * 1000, "max_ms": max(every) * 1000,
            "per_query_p50_ms": {k: round(percentile(v, 50) * 1000, 1) for k, v in latencies.items()},
            "per_query_p99_ms": {k: round(percentile(v, 99) * 1000, 1) for k, v in latencies.items()}}


def bench_database(kind: str, url: str, n_cases: int, ctx: Context) -> dict[str, Any]:
    import httpx

    ctx.log(f"cases: {kind}: seeding")
    ref = seed_reference(url)
    load = bulk_load(url, n_cases, ref["zones"], ctx.log)
    server = Server(url)
    try:
        server.wait_ready()
        r = httpx.post(f"{server.base}/api/v1/auth/login", json={"username": ref["username"], "password": ref["password"]})
        if r.status_code != 200:
            raise BenchError(f"cannot sign in to the case service: {r.status_code} {r.text[:100]}")
        token = r.json()["access_token"]
        n_q = 150 if ctx.quick else 600
        ctx.log(f"cases: {kind}: queue latency ({n_q} requests)")
        queue = measure_queue(server.base, token, ref["zones"], n_q)
        n_seq, n_conc = (60, 240) if ctx.quick else (200, 2000)
        keys = ref["device_keys"]
        ctx.log(f"cases: {kind}: ingest, 1 client ({n_seq} events)")
        seq = asyncio.run(post_events(server.base, keys[:1], make_events(n_seq, ref["zones"]), 1))
        ctx.log(f"cases: {kind}: ingest, {N_CLIENTS} edge boxes at once ({n_conc} events)")
        cpu0 = server.cpu_seconds()
        conc = asyncio.run(post_events(server.base, keys, make_events(n_conc, ref["zones"]), N_CLIENTS))
        conc["server_cpu_ms_per_event"] = round((server.cpu_seconds() - cpu0) / n_conc * 1000, 2)
        n_same = n_conc // 4 if ctx.quick else n_conc // 2
        ctx.log(f"cases: {kind}: ingest, {N_CLIENTS} clients sharing one device key ({n_same} events)")
        same = asyncio.run(post_events(server.base, keys[:1], make_events(n_same, ref["zones"]), N_CLIENTS))
        n_batch = 1600 if ctx.quick else 8000
        ctx.log(f"cases: {kind}: batch ingest, {N_CLIENTS} edge boxes, {BATCH_SIZE} events per request "
                f"({n_batch} events)")
        cpu0 = server.cpu_seconds()
        batch = asyncio.run(post_batches(server.base, keys, events_per_box(n_batch, ref["zones"], N_CLIENTS),
                                         BATCH_SIZE))
        batch["server_cpu_ms_per_event"] = round((server.cpu_seconds() - cpu0) / n_batch * 1000, 2)
    finally:
        server.stop()
    out = {"cases": count_cases(url), "load": load, "queue": queue, "ingest_1": seq, "ingest_16": conc,
           "ingest_16_one_device": same, "ingest_16_batch": batch}
    if kind == "postgresql" and not ctx.quick:  # does a second worker process scale ingest?
        server = Server(url, workers=2)
        try:
            server.wait_ready()
            ctx.log(f"cases: {kind}: ingest, {N_CLIENTS} edge boxes, 2 uvicorn workers ({n_conc} events)")
            out["ingest_16_two_workers"] = asyncio.run(
                post_events(server.base, keys, make_events(n_conc, ref["zones"]), N_CLIENTS))
        finally:
            server.stop()
    return out


def run(ctx: Context) -> tuple[list[Row], dict[str, Any]]:
    n_cases = 100_000 if ctx.quick else 1_000_000
    details: dict[str, Any] = {"target_cases": n_cases}
    rows: list[Row] = []
    databases: list[tuple[str, str]] = []
    try:
        databases.append(("postgresql", ensure_pg_database()))
    except BenchError as exc:
        details["postgresql_error"] = str(exc)
        ctx.log(f"cases: {exc}")
    SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    databases.append(("sqlite", f"sqlite:///{SQLITE_PATH}"))
    for kind, url in databases:
        d = details[kind] = bench_database(kind, url, n_cases, ctx)
        size = f"{d['cases']:,} cases"
        pg = kind == "postgresql"
        rows.append(Row(what=f"ingest events/s, {kind}, {size}", project=d["ingest_16"]["events_per_s"],
                        baseline=d["ingest_1"]["events_per_s"], unit="events/s",
                        project_label=f"{N_CLIENTS} edge boxes at once", baseline_label="1 client",
                        target=">= 500/s" if pg else "", met=d["ingest_16"]["events_per_s"] >= 500 if pg else None,
                        note=f"service CPU {d['ingest_16']['server_cpu_ms_per_event']} ms/event; HTTP status "
                             f"{d['ingest_16']['status']}; {N_CLIENTS} clients on one device key: "
                             f"{d['ingest_16_one_device']['events_per_s']:.0f}/s"
                             + (f"; 2 workers: {d['ingest_16_two_workers']['events_per_s']:.0f}/s"
                                if "ingest_16_two_workers" in d else "")))
        b = d["ingest_16_batch"]
        rows.append(Row(what=f"batch ingest events/s, {kind}, {size}", project=b["events_per_s"],
                        baseline=d["ingest_16"]["events_per_s"], unit="events/s",
                        project_label=f"{N_CLIENTS} edge boxes, {BATCH_SIZE} events per request",
                        baseline_label=f"{N_CLIENTS} edge boxes, one event per request",
                        target=">= 500/s" if pg else "", met=b["events_per_s"] >= 500 if pg else None,
                        note=f"service CPU {b['server_cpu_ms_per_event']} ms/event; event status {b['status']}"))
        rows.append(Row(what=f"queue GET /api/v1/cases p99, {kind}, {size}", project=d["queue"]["p99_ms"],
                        baseline=None, unit="ms", higher_is_better=False,
                        project_label=f"p50 {d['queue']['p50_ms']:.0f} ms, {d['queue']['requests']} requests",
                        target="< 100 ms" if pg else "", met=d["queue"]["p99_ms"] < 100 if pg else None,
                        note="filters + keyset pages"))
    return rows, details
