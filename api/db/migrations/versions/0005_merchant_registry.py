"""Merchant registry: licence number, phone, road, active flag and update stamp on merchants; the
registry-import audit table; the evidence-original access log.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 12:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.db.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # batch_alter_table: SQLite cannot add a foreign key in place, so Alembic copies the table there.
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("licence_number", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("phone", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("road_id", BigId, nullable=True))
        batch_op.add_column(sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False))
        batch_op.add_column(sa.Column("updated_at", api.db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key("fk_merchants_road_id", "roads", ["road_id"], ["id"])
        batch_op.create_index(batch_op.f("ix_merchants_road_id"), ["road_id"], unique=False)
    op.create_table(
        "registry_imports",
        sa.Column("id", BigId, nullable=False),
        sa.Column("at", api.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=150), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "evidence_access",
        sa.Column("id", BigId, nullable=False),
        sa.Column("evidence_id", BigId, nullable=False),
        sa.Column("case_id", BigId, nullable=False),
        sa.Column("actor", sa.String(length=150), nullable=False),
        sa.Column("via", sa.String(length=20), nullable=False),
        sa.Column("at", api.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["evidence_id"], ["evidence.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("evidence_access", schema=None) as batch_op:
        batch_op.create_index("ix_evidence_access_case", ["case_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_evidence_access_evidence_id"), ["evidence_id"], unique=False)


def downgrade() -> None:
    op.drop_table("evidence_access")
    op.drop_table("registry_imports")
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_merchants_road_id"))
        batch_op.drop_constraint("fk_merchants_road_id", type_="foreignkey")
        batch_op.drop_column("updated_at")
        batch_op.drop_column("active")
        batch_op.drop_column("road_id")
        batch_op.drop_column("phone")
        batch_op.drop_column("licence_number")
