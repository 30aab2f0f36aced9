"""Camera health (the edge's latest report per camera and its alert), camera pictures (clean frames), zone
schedules (zones.permits, cameras.timezone), known objects (zones.known_objects).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 12:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.db.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))
    with op.batch_alter_table("zones", schema=None) as batch_op:
        batch_op.add_column(sa.Column("permits", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("known_objects", sa.JSON(), nullable=True))
    op.create_table(
        "camera_health",
        sa.Column("camera_id", BigId, nullable=False),
        sa.Column("device_id", BigId, nullable=True),
        sa.Column("reported_at", api.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("report_every_s", sa.Float(), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("last_frame_age_s", sa.Float(), nullable=True),
        sa.Column("analysis_fps", sa.Float(), nullable=True),
        sa.Column("decode_errors", sa.Integer(), nullable=False),
        sa.Column("reconnects", sa.Integer(), nullable=False),
        sa.Column("model_name", sa.String(length=100), nullable=True),
        sa.Column("model_version", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("view_score", sa.Float(), nullable=True),
        sa.Column("alert", sa.String(length=40), nullable=True),
        sa.Column("alert_since", api.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("picture_requested_at", api.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("proposals", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["device_id"], ["edge_devices.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("camera_id"),
    )
    op.create_table(
        "camera_pictures",
        sa.Column("id", BigId, nullable=False),
        sa.Column("camera_id", BigId, nullable=False),
        sa.Column("taken_at", api.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", api.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("content_type", sa.String(length=60), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.Boolean(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("camera_pictures", schema=None) as batch_op:
        batch_op.create_index("ix_camera_pictures_camera", ["camera_id", "taken_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("camera_pictures", schema=None) as batch_op:
        batch_op.drop_index("ix_camera_pictures_camera")
    op.drop_table("camera_pictures")
    op.drop_table("camera_health")
    with op.batch_alter_table("zones", schema=None) as batch_op:
        batch_op.drop_column("known_objects")
        batch_op.drop_column("permits")
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.drop_column("timezone")
