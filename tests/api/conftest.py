"""Case-service fixtures: one migrated database per kind (SQLite file / fresh PostgreSQL schema) per session."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from apikit import World, api_settings, make_world

# Same default as tests/conftest.py (not importable from here: the tests folder is not a package).
POSTGRES_URL = os.environ.get("FRONTAGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def database_url(database_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, migrated database: proves the Alembic migrations on both SQLite and PostgreSQL."""
    yield from _migrated_database(database_kind, tmp_path_factory)


@pytest.fixture()
def own_database_url(database_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database of this test alone: for tests that drain a queue (the notification outbox) and must
    not see what the session's other tests left pending in it."""
    yield from _migrated_database(database_kind, tmp_path_factory)


def _migrated_database(database_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from api.db.migrate import upgrade

    if database_kind == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'frontage.db'}"
        upgrade(url)
        yield url
        return
    import psycopg

    schema = f"t_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    raw = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(raw, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in POSTGRES_URL else "?"
    url = f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(raw, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="session")
def app(database_url: str):  # type: ignore[no-untyped-def]
    from api.main import create_app

    application = create_app(api_settings(database_url))
    yield application
    application.state.engine.dispose()


@pytest.fixture(scope="session")
def client(app):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


@pytest.fixture()
def world(app) -> World:  # type: ignore[no-untyped-def]
    return make_world(app)
