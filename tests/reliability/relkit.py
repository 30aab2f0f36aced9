"""Real parts for the reliability suite: a database of our own, the case service as a uvicorn subprocess
(killable, restartable on the same port, its log captured), the edge as a ``frontage edge`` subprocess,
and reference data seeded straight into the database.

Everything here runs real processes; nothing is mocked.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_URL = os.environ.get("FRONTAGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REL_DATABASE = "frontage_rel"  # our own database on the shared server; the `test` database is never touched


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(cond: Callable[[], object], timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return bool(cond())


def require_postgres() -> None:
    """Skip locally, fail in CI (FRONTAGE_REQUIRE_POSTGRES), when PostgreSQL at 127.0.0.1:5432 is unreachable."""
    import pytest

    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=2).close()
    except OSError:
        if os.environ.get("FRONTAGE_REQUIRE_POSTGRES", "") not in ("", "0", "false", "False"):
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is unreachable and FRONTAGE_REQUIRE_POSTGRES is set")
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is unreachable")


def _raw(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _with_database(url: str, name: str) -> str:
    head, _, tail = url.rpartition("/")
    query = tail.partition("?")[2]
    return f"{head}/{name}" + (f"?{query}" if query else "")


@contextlib.contextmanager
def rel_schema() -> Iterator[str]:
    """A fresh, migrated schema in our own ``frontage_rel`` database (created once); dropped afterwards."""
    import psycopg

    from api.db.migrate import upgrade

    with psycopg.connect(_raw(POSTGRES_URL), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (REL_DATABASE,)).fetchone():
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(f'CREATE DATABASE "{REL_DATABASE}"')
    base = _with_database(POSTGRES_URL, REL_DATABASE)
    schema = f"rel_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(_raw(base), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(_raw(base), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


class ServiceProcess:
    """The case service as a real uvicorn subprocess; stdout+stderr go to ``log_path`` (appended)."""

    def __init__(self, database_url: str, log_path: Path, port: int | None = None, *, frontage_serve: bool = False,
                 **env: str) -> None:
        """``frontage_serve``: run the production command (``frontage serve``, its logging) instead of bare uvicorn."""
        self.database_url = database_url
        self.frontage_serve = frontage_serve
        self.log_path = log_path
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {"FRONTAGE_DATABASE_URL": database_url, "FRONTAGE_AUTO_MIGRATE": "false",
                    "FRONTAGE_SCHEDULER_ENABLED": "false", "FRONTAGE_ARGON2_TIME_COST": "1",
                    "FRONTAGE_ARGON2_MEMORY_KIB": "1024",
                    # explicit test key, shared by every process of a test (the service refuses to start without one)
                    "FRONTAGE_SECRET_KEY": "reliability-tests-secret-key-0123456789abcdef", **env}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, wait: bool = True) -> ServiceProcess:
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child for its whole life
        if self.frontage_serve:
            cmd = [sys.executable, "-m", "detector", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                   "--log-level", "info"]
        else:
            cmd = [sys.executable, "-m", "uvicorn", "--factory", "api.main:app_from_env", "--host", "127.0.0.1",
                   "--port", str(self.port), "--log-level", "info"]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60, path: str = "/healthz") -> None:
        def up() -> bool:
            assert self.proc is not None and self.proc.poll() is None, f"service exited:\n{self.log_tail()}"
            try:
                return httpx.get(self.url + path, timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        if not wait_for(up, timeout, 0.2):
            raise AssertionError(f"service did not come up on {self.url}:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: a crash, not a clean shutdown."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Seeded:
    """What `seed` created: raw secrets (returned once by the service's own functions) and names."""

    device_keys: dict[str, str] = field(default_factory=dict)
    merchant_tokens: dict[str, str] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)


def seed(database_url: str, zones_yaml: list[str], devices: dict[str, list[str]],
         users: dict[str, str] | None = None, merchant_tokens: list[str] | None = None) -> Seeded:
    """Cameras+zones (zones YAML texts), devices {name: [camera]}, users {username: role}, merchant tokens."""
    import yaml
    from sqlalchemy import select

    from api.core.config import Settings
    from api.db.models import Merchant
    from api.db.session import make_engine, make_session_factory, session_scope
    from api.security import Passwords
    from api.services.registration import apply_zones, create_device, create_user
    from api.workflow import issue_merchant_token
    from detector.zones.schema import parse_zones

    settings = Settings(database_url=database_url)
    engine = make_engine(database_url)
    out = Seeded()
    now = datetime.now(UTC)
    try:
        with session_scope(make_session_factory(engine)) as s:
            for text in zones_yaml:
                apply_zones(s, parse_zones(yaml.safe_load(text)), now, road="Reliability Road")
            for name, cams in devices.items():
                _, out.device_keys[name] = create_device(s, name, cams, now)
            pw = Passwords(1, 1024)
            for username, role in (users or {}).items():
                out.passwords[username] = f"pw-{uuid.uuid4().hex}"
                create_user(s, pw, username, out.passwords[username], role, now)
            for code in merchant_tokens or []:
                merchant = s.scalar(select(Merchant).where(Merchant.code == code))
                assert merchant is not None, code
                out.merchant_tokens[code] = issue_merchant_token(s, settings, merchant, now)
    finally:
        engine.dispose()
    return out


def login(base_url: str, username: str, password: str) -> dict[str, str]:
    r = httpx.post(base_url + "/api/v1/auth/login", json={"username": username, "password": password}, timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    token = body.get("access_token") or body.get("token")
    assert token, body
    return {"Authorization": f"Bearer {token}"}


class EdgeProcess:
    """``frontage edge --config <file>`` as a real subprocess; output to ``log_path`` (appended)."""

    def __init__(self, config: Path, log_path: Path, key: str, *args: str) -> None:
        self.config, self.log_path, self.key, self.args = config, log_path, key, args
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> EdgeProcess:
        env = {**os.environ, "FRONTAGE_DEVICE_KEY": self.key, "PYTHONUNBUFFERED": "1"}
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen([sys.executable, "-m", "detector", "edge", "--config", str(self.config),
                                      *self.args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""
