"""API keys and their list scopes

Revision ID: 0004
Revises: 0001
Create Date: 2026-12-04 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import strongroom.server.core.db

revision: str = "0004"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("system_wide", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=300), nullable=False),
        sa.Column(
            "created_at",
            strongroom.server.core.db.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "last_used_at",
            strongroom.server.core.db.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "revoked_at",
            strongroom.server.core.db.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_api_keys_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_keys_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "api_key_lists",
        sa.Column("key_id", sa.String(length=36), nullable=False),
        sa.Column("list_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["api_keys.id"],
            name=op.f("fk_api_key_lists_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["password_lists.id"],
            name=op.f("fk_api_key_lists_list_id_password_lists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key_id", "list_id", name=op.f("pk_api_key_lists")),
    )
    with op.batch_alter_table("api_key_lists", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_key_lists_list_id"), ["list_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("api_key_lists", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_key_lists_list_id"))
    op.drop_table("api_key_lists")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_user_id"))
    op.drop_table("api_keys")
