"""Smoke test of bench/queue_pg.py (moved out of the product package): it fills a throwaway PostgreSQL schema,
runs every queue request through the app and drops the schema. No figure is asserted (speed belongs in bench/)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_URL = os.environ.get("FRONTAGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def postgres_reachable() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=2).close()
        return True
    except OSError:
        return False


def test_queue_probe_runs_on_a_small_table() -> None:
    if not postgres_reachable():
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is unreachable")
    proc = subprocess.run([sys.executable, "-m", "bench.queue_pg", "--cases", "2000", "--url", POSTGRES_URL],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert any(line.startswith("filled 2000 cases") for line in lines), proc.stdout
    for name in ("newest 50", "overdue", "merchant=m-42", "sort -confidence"):
        assert any(line.startswith(name) and "median" in line for line in lines), (name, proc.stdout)
