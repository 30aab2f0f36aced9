"""Run the packaged Alembic migrations programmatically (the ini and scripts ship inside ``api.db``).

Command line: ``alembic -c api/db/alembic.ini upgrade head`` (reads ``FRONTAGE_DATABASE_URL``).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

HERE = Path(__file__).resolve().parent


def alembic_config(database_url: str) -> Config:
    cfg = Config(str(HERE / "alembic.ini"))
    cfg.set_main_option("script_location", str(HERE / "migrations"))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


#: Any constant: replicas starting together take turns migrating instead of racing on CREATE TABLE.
_MIGRATION_LOCK = 0x46524F4E54  # "FRONT"


def upgrade(database_url: str, revision: str = "head") -> None:
    from sqlalchemy import create_engine, pool, text

    cfg = alembic_config(database_url)
    if database_url.startswith("sqlite"):
        _upgrade_sqlite(cfg, database_url, revision)
        return
    if not database_url.startswith("postgresql"):
        command.upgrade(cfg, revision)
        return
    engine = create_engine(database_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK})
            conn.commit()
            try:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                conn.commit()
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK})
                conn.commit()
    finally:
        engine.dispose()


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def _upgrade_sqlite(cfg: Config, database_url: str, revision: str) -> None:
    """Workers of one server starting together take turns (a lock file beside the database)."""
    import fcntl

    from sqlalchemy.engine import make_url

    db = make_url(database_url).database
    if not db or db == ":memory:":
        command.upgrade(cfg, revision)
        return
    lock_path = Path(db).with_name(Path(db).name + ".migrate.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            command.upgrade(cfg, revision)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
