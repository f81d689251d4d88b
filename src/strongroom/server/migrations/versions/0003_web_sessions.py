"""web sessions, sign-in throttling, TOTP replay guard, list-page indexes

Revision ID: 0003
Revises: 0001
Create Date: 2026-12-04 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import strongroom.server.core.db

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PAGE_INDEXES = (
    ("ix_records_page_title", "lower(title)"),
    ("ix_records_page_username", "lower(username)"),
    ("ix_records_page_url", "lower(url)"),
    ("ix_records_page_updated", "updated_at"),
)


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("auth_stamp", sa.String(length=64), nullable=False),
        sa.Column("mfa_pending", sa.Boolean(), nullable=False),
        sa.Column("pending_totp_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("flash", sa.String(length=500), nullable=True),
        sa.Column("source_ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=255), nullable=False),
        sa.Column(
            "created_at",
            strongroom.server.core.db.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "last_seen_at",
            strongroom.server.core.db.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_web_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_web_sessions_user_id"), ["user_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_web_sessions_last_seen_at"), ["last_seen_at"], unique=False
        )

    op.create_table(
        "web_login_throttle",
        sa.Column("source_ip", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column(
            "window_started_at",
            strongroom.server.core.db.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("source_ip", name=op.f("pk_web_login_throttle")),
    )

    op.create_table(
        "web_totp_last_step",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("last_step", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_web_totp_last_step_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_web_totp_last_step")),
    )

    # The browser's list page sorts one list by these keys (web/models.py).
    for name, key in _PAGE_INDEXES:
        op.create_index(name, "records", ["list_id", sa.text(key), "id"], unique=False)


def downgrade() -> None:
    for name, _key in _PAGE_INDEXES:
        op.drop_index(name, table_name="records")
    op.drop_table("web_totp_last_step")
    op.drop_table("web_login_throttle")
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_sessions_last_seen_at"))
        batch_op.drop_index(batch_op.f("ix_web_sessions_user_id"))

    op.drop_table("web_sessions")
