"""mobile devices: sync state, retired credentials, pairing attempts

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import strongroom.server.core.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("installation_id", sa.String(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "wipe_requested_at",
                strongroom.server.core.db.UTCDateTime(timezone=True),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column(
                "wiped_at",
                strongroom.server.core.db.UTCDateTime(timezone=True),
                nullable=True,
            )
        )
        batch_op.create_index(
            batch_op.f("ix_devices_installation_id"), ["installation_id"], unique=False
        )

    with op.batch_alter_table("mobile_credentials", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "qr_issued_at",
                strongroom.server.core.db.UTCDateTime(timezone=True),
                nullable=True,
            )
        )

    op.create_table(
        "retired_device_credentials",
        sa.Column("credential_hash", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column(
            "retired_at",
            strongroom.server.core.db.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_retired_device_credentials_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "credential_hash", name=op.f("pk_retired_device_credentials")
        ),
    )
    with op.batch_alter_table("retired_device_credentials", schema=None) as batch_op:
        batch_op.create_index(
            "ix_retired_device_credentials_device_retired",
            ["device_id", "retired_at"],
            unique=False,
        )

    op.create_table(
        "device_sync_states",
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("acked_cursor", sa.String(length=64), nullable=True),
        sa.Column("acked_version", sa.BigInteger(), nullable=False),
        sa.Column("acked_access", sa.BigInteger(), nullable=False),
        sa.Column("pending_cursor", sa.String(length=64), nullable=True),
        sa.Column("pending_version", sa.BigInteger(), nullable=True),
        sa.Column("pending_access", sa.BigInteger(), nullable=True),
        sa.Column("pending_lists", sa.Boolean(), nullable=False),
        sa.Column("pending_full", sa.Boolean(), nullable=False),
        sa.Column(
            "pending_at",
            strongroom.server.core.db.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_device_sync_states_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_device_sync_states")),
    )

    op.create_table(
        "device_sync_lists",
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("slot", sa.String(length=8), nullable=False),
        sa.Column("list_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_device_sync_lists_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "device_id", "slot", "list_id", name=op.f("pk_device_sync_lists")
        ),
    )

    op.create_table(
        "pairing_attempts",
        sa.Column("installation_id", sa.String(length=64), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column(
            "locked_until",
            strongroom.server.core.db.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "last_attempt_at",
            strongroom.server.core.db.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("installation_id", name=op.f("pk_pairing_attempts")),
    )


def downgrade() -> None:
    op.drop_table("pairing_attempts")
    op.drop_table("device_sync_lists")
    op.drop_table("device_sync_states")
    with op.batch_alter_table("retired_device_credentials", schema=None) as batch_op:
        batch_op.drop_index("ix_retired_device_credentials_device_retired")
    op.drop_table("retired_device_credentials")
    with op.batch_alter_table("mobile_credentials", schema=None) as batch_op:
        batch_op.drop_column("qr_issued_at")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_devices_installation_id"))
        batch_op.drop_column("wiped_at")
        batch_op.drop_column("wipe_requested_at")
        batch_op.drop_column("installation_id")
