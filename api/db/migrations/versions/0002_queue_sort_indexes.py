"""Indexes for the queue's confidence and last-seen sorts (measured: 3.8 s -> ms at 1,000,000 cases).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 18:56:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_confidence", ["confidence", "id"], unique=False)
        batch_op.create_index("ix_cases_last_seen", ["last_seen_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_last_seen")
        batch_op.drop_index("ix_cases_confidence")
