"""Server-side session epochs: ``users.session_epoch`` (signing out or an admin's revoke moves it on, which
ends every browser session and API token of that user issued before).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 12:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # server_default: existing rows start at epoch 0, which is what tokens issued before this revision carry.
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_epoch", sa.Integer(), nullable=False, server_default=sa.text("0")))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("session_epoch")
