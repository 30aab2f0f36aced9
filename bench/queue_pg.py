"""The operator queue at scale on PostgreSQL, in-process (a fresh schema, dropped afterwards)::

    python -m bench.queue_pg --cases 1000000 [--url postgresql+psycopg://postgres@127.0.0.1:5432/test]

Fills ``cases`` with generate_series (realistic spread of states, cameras, merchants, ages), then times
page 2 of each queue request through the app in this process (TestClient; median of 5 after a warm-up).
A quick probe of query plans while changing `api.services.queue`; the figures in BENCHMARKS.md come from
``bench/cases.py`` (a real uvicorn process over HTTP, both databases).
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import create_engine, text

FILL = """
INSERT INTO roads (name) SELECT 'Road ' || g FROM generate_series(1, 50) g;
INSERT INTO merchants (code, name, offence_count, created_at)
  SELECT 'm-' || g, 'Shop ' || g, 0, now() FROM generate_series(1, 2000) g;
INSERT INTO cameras (code, name, road_id, active, created_at)
  SELECT 'cam-' || g, 'Camera ' || g, 1 + g % 50, true, now() FROM generate_series(1, 500) g;
INSERT INTO zones (camera_id, code, kind, polygon, forbid, merchant_id)
  SELECT c.id, 'z-' || k, 'storefront', '[[0,0],[1,0],[1,1]]', '["out_of_store_trading"]', 1 + (c.id * 4 + k) % 2000
  FROM cameras c, generate_series(0, 3) k;
INSERT INTO cases (version, state, category, camera_id, zone_id, road_id, merchant_id, confidence,
                   escalation_level, max_escalation_level, self_rectified, first_seen_at, last_seen_at,
                   created_at, updated_at, due_at)
  SELECT 1,
         (ARRAY['closed','closed','closed','closed','rejected','notified','escalated','detected',
                'merchant_reported_fixed','closed'])[1 + g % 10],
         (ARRAY['out_of_store_trading','exposed_garbage','disorderly_parking','stacked_materials',
                'street_vending'])[1 + g % 5],
         1 + g % 500, z.id, 1 + (1 + g % 500) % 50, z.merchant_id, 0.5 + (g % 50) / 100.0,
         CASE WHEN g % 10 = 6 THEN 1 ELSE 0 END, CASE WHEN g % 10 = 6 THEN 1 ELSE 0 END, false,
         now() - (g || ' seconds')::interval * 30, now() - (g || ' seconds')::interval * 30,
         now() - (g || ' seconds')::interval * 30, now() - (g || ' seconds')::interval * 30,
         CASE WHEN g % 10 IN (5, 6) THEN now() - (g % 1000 || ' minutes')::interval + interval '6 hours' END
  FROM generate_series(1, :n) g
  JOIN zones z ON z.camera_id = 1 + g % 500 AND z.code = 'z-' || (g % 4);
ANALYZE;
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from api.core.config import Settings
    from api.db.migrate import upgrade
    from api.main import create_app
    from api.security import Passwords

    schema = f"perf_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{args.url}{'&' if '?' in args.url else '?'}options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        engine = create_engine(url)
        t0 = time.perf_counter()
        with engine.begin() as c:
            for stmt in FILL.split(";\n"):
                if stmt.strip():
                    c.execute(text(stmt), {"n": args.cases} if ":n" in stmt else {})
            passwords = Passwords(1, 1024)
            uid = c.execute(text("INSERT INTO users (username, role, password_hash, active, created_at) "
                                 "VALUES ('perf', 'operator', :h, true, now()) RETURNING id"),
                            {"h": passwords.hash("x" * 12)}).scalar_one()
        with engine.connect() as c:
            n = c.execute(text("SELECT count(*) FROM cases")).scalar_one()
        print(f"filled {n} cases in {time.perf_counter() - t0:.1f} s")
        settings = Settings(database_url=url, scheduler_enabled=False, auto_migrate=False,
                            secret_key=secrets.token_urlsafe(48))  # a key for this run only
        app = create_app(settings)
        token = app.state.session_tokens.issue(uid)  # the app's own issuer: whatever signs its sessions
        headers = {"Authorization": f"Bearer {token}"}
        queries = {
            "newest 50": {},
            "state=detected": {"state": "detected"},
            "state=notified,escalated": {"state": ["notified", "escalated"]},
            "overdue": {"overdue": "true"},
            "camera=cam-7": {"camera": "cam-7"},
            "merchant=m-42": {"merchant": "m-42"},
            "road + category": {"road": "Road 3", "category": "exposed_garbage"},
            "sort -confidence": {"sort": "-confidence"},
        }
        with TestClient(app) as client:
            for name, params in queries.items():
                first = client.get("/api/v1/cases", params={**params, "limit": 50}, headers=headers)
                assert first.status_code == 200, first.text
                cursor = first.json()["next_cursor"]
                times = []
                for _ in range(5):
                    t = time.perf_counter()
                    r = client.get("/api/v1/cases", params={**params, "limit": 50, "cursor": cursor} if cursor
                                   else {**params, "limit": 50}, headers=headers)
                    times.append((time.perf_counter() - t) * 1000)
                    assert r.status_code == 200
                print(f"{name:28s} page 2: median {statistics.median(times):7.1f} ms over HTTP (in-process)")
            t = time.perf_counter()
            r = client.get("/api/v1/stats", headers=headers)
            print(f"{'stats (30 days)':28s} {(time.perf_counter() - t) * 1000:7.0f} ms")
        app.state.engine.dispose()
        engine.dispose()
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    print(f"done at {datetime.now(UTC):%H:%M:%S}")


if __name__ == "__main__":
    main()
