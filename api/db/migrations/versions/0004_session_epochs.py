"""Server-side session epochs and revocable API tokens (placeholder until filled in).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 12:20:00
"""
from collections.abc import Sequence

from alembic import op  # noqa: F401 - filled in by the change that owns this revision

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
