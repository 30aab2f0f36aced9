"""Alembic on both databases: the session database is at head, matches the models, and the migrations
go down to base and up again cleanly.
"""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from api.db.migrate import downgrade, upgrade
from api.db.models import Base

MIGRATIONS = Path(__file__).resolve().parents[2] / "api" / "db" / "migrations"


def head_revision() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


def test_models_match_migrations_and_round_trip(database_url, app):
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head_revision()
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
    finally:
        engine.dispose()


def test_downgrade_and_upgrade_on_a_fresh_database(database_kind, tmp_path):
    if database_kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'm.db'}"
        upgrade(url)
        downgrade(url, "base")
        upgrade(url)
        return
    import os
    import uuid

    import psycopg

    base = os.environ.get("FRONTAGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    raw = base.replace("postgresql+psycopg://", "postgresql://")
    schema = f"mig_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(raw, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
        upgrade(url)
        downgrade(url, "base")
        upgrade(url)
    finally:
        with psycopg.connect(raw, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
