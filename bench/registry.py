"""Merchant registry import: 10,000 shops (each with its zone) into a fresh database, again (idempotent, no
change), and the export, timed on SQLite and (when reachable) PostgreSQL.

``python -m bench.registry [--rows 10000]``. It calls the service function the import endpoint calls
(`api.services.registry_import.import_registry`) in one transaction, as the endpoint does; the HTTP upload
itself adds the time to send the file.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import socket
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

PG_URL = os.environ.get("FRONTAGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=2):
            return True
    except OSError:
        return False


def survey_csv(rows: int, cameras: int) -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(["code", "name", "licence_number", "phone", "notification_address", "address", "road", "zones"])
    per = rows // cameras
    for i in range(rows):
        cam, k = divmod(i, per)
        writer.writerow([f"m-{i:05d}", f"商户 {i}", f"91330100MA{i:08d}", f"138{i % 10000:04d}{i % 10000:04d}",
                         "", f"{i} Road {cam % 9}", f"Road {cam % 9}", f"cam-{cam:03d}/z{k:02d}"])
    return buf.getvalue().encode("utf-8")


def seed_zones(factory, rows: int, cameras: int) -> None:  # type: ignore[no-untyped-def]
    from api.db.models import Camera, Zone
    from api.db.session import session_scope

    now = datetime.now(UTC)
    per = rows // cameras
    with session_scope(factory) as s:
        for cam in range(cameras):
            camera = Camera(code=f"cam-{cam:03d}", name=f"cam {cam}", active=True, created_at=now)
            s.add(camera)
            s.flush()
            s.add_all(Zone(camera_id=camera.id, code=f"z{k:02d}", kind="storefront", forbid=[],
                           polygon=[[0, 0], [1, 0], [1, 1]]) for k in range(per))


def run(url: str, rows: int, cameras: int) -> dict[str, float]:
    from api.db.migrate import upgrade
    from api.db.session import make_engine, make_session_factory, session_scope
    from api.services.registry_import import export_csv, import_registry, registry_rows

    upgrade(url)
    engine = make_engine(url, 2)
    factory = make_session_factory(engine)
    seed_zones(factory, rows, cameras)
    data = survey_csv(rows, cameras)
    out: dict[str, float] = {}
    for label in ("first import", "re-import (no change)"):
        started = time.perf_counter()
        with session_scope(factory) as s:
            report = import_registry(s, data, "bench.csv", actor="bench", now=datetime.now(UTC), max_rows=rows)
        out[label] = time.perf_counter() - started
        assert not report.rejected, report.rejected[:3]
        assert report.created == (rows if label == "first import" else 0) and report.updated == 0
    started = time.perf_counter()
    with session_scope(factory) as s:
        export_csv(registry_rows(s))
    out["export CSV"] = time.perf_counter() - started
    engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--cameras", type=int, default=500)
    args = parser.parse_args()
    targets = []
    with tempfile.TemporaryDirectory() as tmp:
        targets.append(("SQLite", f"sqlite:///{Path(tmp) / 'registry.db'}", None))
        schema = None
        if _pg_reachable():
            import psycopg

            schema = f"bench_registry_{uuid.uuid4().hex[:6]}"
            raw = PG_URL.replace("postgresql+psycopg://", "postgresql://")
            with psycopg.connect(raw, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            targets.append(("PostgreSQL", f"{PG_URL}?options=-csearch_path%3D{schema}", raw))
        try:
            print(f"| database | {args.rows} rows: first import | re-import (no change) | export CSV |")
            print("|---|---|---|---|")
            for name, url, _ in targets:
                t = run(url, args.rows, args.cameras)
                print(f"| {name} | {t['first import']:.2f} s | {t['re-import (no change)']:.2f} s "
                      f"| {t['export CSV']:.2f} s |")
        finally:
            if schema is not None:
                with psycopg.connect(targets[-1][2], autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
