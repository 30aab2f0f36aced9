"""Merchant registry, dispatch webhook and report fields (placeholder until filled in).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 12:20:00
"""
from collections.abc import Sequence

from alembic import op  # noqa: F401 - filled in by the change that owns this revision

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
