"""Service settings: every knob of the case service, read from ``FRONTAGE_*`` environment variables.

>>> Settings(database_url="sqlite://").fix_deadline_for("exposed_garbage")
3600.0
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

_DEFAULT_DEADLINES: dict[str, float] = {
    "out_of_store_trading": 2 * 3600.0,
    "exposed_garbage": 3600.0,
    "disorderly_parking": 2 * 3600.0,
    "stacked_materials": 4 * 3600.0,
    "street_vending": 3600.0,
}


class Settings(BaseSettings):
    """Case-service configuration. Environment: ``FRONTAGE_<FIELD>`` (e.g. ``FRONTAGE_DATABASE_URL``)."""

    model_config = SettingsConfigDict(env_prefix="FRONTAGE_", extra="ignore")

    database_url: Annotated[str, Field(
        title="Database URL",
        description="SQLAlchemy URL: sqlite:///var/frontage.db or postgresql+psycopg://user@host/db")] = (
        "sqlite:///var/frontage.db")
    db_pool_size: Annotated[int, Field(ge=1, description="Connections kept per process (PostgreSQL)")] = 5
    auto_migrate: Annotated[bool, Field(
        description="Run Alembic migrations to head when the app starts")] = True
    secret_key: Annotated[str, Field(
        min_length=16, description="Signs operator session tokens; set a long random value in production")] = (
        "dev-only-change-me-please-0123456789")
    user_token_ttl_s: Annotated[float, Field(gt=0, description="Lifetime of an operator login token")] = 12 * 3600.0
    merchant_token_ttl_s: Annotated[float, Field(gt=0, description="Lifetime of a merchant link token")] = 14 * 86400.0
    argon2_time_cost: Annotated[int, Field(ge=1, description="argon2 time cost for passwords")] = 2
    argon2_memory_kib: Annotated[int, Field(ge=8, description="argon2 memory cost (KiB) for passwords")] = 19456
    public_url: Annotated[str, Field(
        description="Base URL people reach the service at; merchant links are {public_url}/m/{token}")] = (
        "http://127.0.0.1:8000")
    forwarded_allow_ips: Annotated[str, Field(
        description="Comma-separated proxy addresses whose X-Forwarded-For is trusted (client IP for login limits); "
                    "never '*' unless every client comes through the proxy")] = "127.0.0.1"

    # Ingest
    attach_window_s: Annotated[float, Field(
        ge=0, description="A new episode in the same camera+zone+category this soon after the open case's "
        "last sighting attaches to that case instead of opening a new one")] = 3600.0
    evidence_max_bytes: Annotated[int, Field(gt=0, description="Largest evidence file accepted")] = 10 * 1024 * 1024
    evidence_max_pixels: Annotated[int, Field(
        gt=0, description="Largest image (width x height) accepted: guards against decompression bombs")] = 40_000_000
    evidence_store: Annotated[Literal["db", "dir"], Field(
        description="Where evidence bytes live: 'db' (readable by every replica) or 'dir' (a shared volume)")] = "db"
    evidence_dir: Annotated[Path, Field(description="Directory for evidence when evidence_store='dir'")] = Path(
        "var/evidence")
    retention_days: Annotated[float, Field(
        gt=0, description="Evidence of closed or rejected cases older than this is purged")] = 180.0

    # Workflow
    auto_confirm_threshold: Annotated[float | None, Field(
        ge=0, le=1, description="Confirm new cases automatically at or above this confidence (None: off)")] = None
    fix_deadlines_s: Annotated[dict[str, float], Field(
        description="Seconds a merchant has to fix, per category")] = dict(_DEFAULT_DEADLINES)
    default_fix_deadline_s: Annotated[float, Field(
        gt=0, description="Fix deadline for a category missing from fix_deadlines_s")] = 2 * 3600.0
    escalation_sla_s: Annotated[dict[int, float], Field(
        description="Seconds each enforcement level (1 street, 2 district, 3 city) has before the next")] = {
        1: 24 * 3600.0, 2: 48 * 3600.0, 3: 72 * 3600.0}
    repeat_offender_cases: Annotated[int, Field(
        ge=1, description="A merchant with this many confirmed cases in the window skips self-rectification")] = 3
    repeat_offender_window_days: Annotated[float, Field(gt=0, description="Window for repeat offences")] = 30.0
    auto_close_verified: Annotated[bool, Field(
        description="Close a case as soon as it is verified (camera clear or operator)")] = True

    # Scheduler, clock, notifications
    scheduler_enabled: Annotated[bool, Field(description="Run deadlines/escalations/outbox inside the service")] = True
    scheduler_interval_s: Annotated[float, Field(gt=0, description="Seconds between scheduler passes")] = 10.0
    scheduler_batch: Annotated[int, Field(gt=0, description="Rows locked and processed per scheduler batch")] = 100
    clock_offset_s: Annotated[float, Field(
        description="Added to the wall clock (demo and tests move time forward with it)")] = 0.0
    allow_clock_control: Annotated[bool, Field(
        description="Expose POST /api/v1/admin/clock to admins (demo/test only, never production)")] = False
    notify_webhook_url: Annotated[str | None, Field(
        description="POST notifications here as JSON; unset: notifications are written to the log")] = None
    notify_max_attempts: Annotated[int, Field(ge=1, description="Webhook attempts before a message is dead")] = 6
    notify_backoff_s: Annotated[float, Field(gt=0, description="First retry delay; doubles each attempt")] = 30.0
    notify_timeout_s: Annotated[float, Field(gt=0, description="Webhook request timeout")] = 5.0

    # Merchant registry, city dispatch, reports (api/services/registry_import.py, api/dispatch.py, api/services/reports.py)
    registry_max_rows: Annotated[int, Field(
        gt=0, title="Registry import row limit", description="Most rows one registry import may hold")] = 50_000
    registry_max_bytes: Annotated[int, Field(
        gt=0, title="Registry import size limit", description="Largest registry file (CSV or XLSX) accepted")] = (
        20 * 1024 * 1024)
    registry_phone_region: Annotated[str, Field(
        pattern=r"^[A-Z]{2}$", title="Phone region",
        description="ISO country whose numbering plan reads phones written without +country (CN: 138 0013 8000)")] = "CN"
    dispatch_webhook_url: Annotated[str | None, Field(
        title="City dispatch webhook", description="Escalated cases are POSTed here (docs/DISPATCH.md); unset: off")] = None
    dispatch_webhook_secret: Annotated[str | None, Field(
        min_length=16, title="City dispatch secret",
        description="HMAC-SHA256 key signing each dispatch body (X-Frontage-Signature header)")] = None
    dispatch_at_level: Annotated[int | None, Field(
        ge=1, le=3, title="Automatic dispatch level",
        description="Escalations reaching this level are dispatched automatically; None: only by a supervisor")] = 1
    report_cjk_font: Annotated[Path | None, Field(
        title="CJK font for PDF reports",
        description="TTF/OTF/TTC file for Chinese text in PDF reports; unset: the Debian font packages' paths are tried")] = (
        None)

    def fix_deadline_for(self, category: str) -> float:
        return float(self.fix_deadlines_s.get(category, self.default_fix_deadline_s))

    def sla_for(self, level: int) -> float:
        return float(self.escalation_sla_s.get(level, max(self.escalation_sla_s.values())))


@lru_cache
def get_settings() -> Settings:
    return Settings()
