"""Idempotency keys scoped to the device; episode ids scoped to the camera.

Before, ``ingested_events.idempotency_key`` and ``episodes.episode_id`` were unique across the whole
service, and both are computable from facts staff and merchants see: a device could squat another
camera's future key, learn another device's case from its key, or close another camera's case by naming
its episode. Now a key is unique per device (``device_id`` becomes NOT NULL: every ingested event has
one) and an episode per camera (``episodes.camera_id``, filled in from the episode's case).

Downgrade restores the global uniques; it fails if two devices have since used the same key, or two
cameras the same episode id (which the old schema could not hold).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 12:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
#: 0001 created these uniques without names: PostgreSQL called them <table>_<column>_key, SQLite nothing.
#: In batch mode (SQLite) this convention names the reflected ones so that they can be dropped.
_NAMING = {"uq": "%(table_name)s_%(column_0_name)s_key"}


def upgrade() -> None:
    with op.batch_alter_table("ingested_events", naming_convention=_NAMING) as batch_op:
        batch_op.drop_constraint("ingested_events_idempotency_key_key", type_="unique")
        batch_op.alter_column("device_id", existing_type=BigId, nullable=False)
        batch_op.create_unique_constraint("uq_ingested_events_device_key", ["device_id", "idempotency_key"])

    with op.batch_alter_table("episodes") as batch_op:
        batch_op.add_column(sa.Column("camera_id", BigId, nullable=True))
    op.execute("UPDATE episodes SET camera_id = (SELECT cases.camera_id FROM cases WHERE cases.id = episodes.case_id)")
    with op.batch_alter_table("episodes", naming_convention=_NAMING) as batch_op:
        batch_op.drop_constraint("episodes_episode_id_key", type_="unique")
        batch_op.alter_column("camera_id", existing_type=BigId, nullable=False)
        batch_op.create_foreign_key("fk_episodes_camera_id", "cameras", ["camera_id"], ["id"])
        batch_op.create_unique_constraint("uq_episodes_camera_episode", ["camera_id", "episode_id"])


def downgrade() -> None:
    with op.batch_alter_table("episodes") as batch_op:
        batch_op.drop_constraint("uq_episodes_camera_episode", type_="unique")
        batch_op.drop_constraint("fk_episodes_camera_id", type_="foreignkey")
        batch_op.drop_column("camera_id")
        batch_op.create_unique_constraint("episodes_episode_id_key", ["episode_id"])

    with op.batch_alter_table("ingested_events") as batch_op:
        batch_op.drop_constraint("uq_ingested_events_device_key", type_="unique")
        batch_op.alter_column("device_id", existing_type=BigId, nullable=True)
        batch_op.create_unique_constraint("ingested_events_idempotency_key_key", ["idempotency_key"])
