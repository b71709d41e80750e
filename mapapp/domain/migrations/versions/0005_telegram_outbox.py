"""Telegram: the outbox of channel changes, the channel's messages, bot chats, update cursor.

Revision ID: 0005_telegram
Revises: 0004_publish
"""

import sqlalchemy as sa
from alembic import op

from mapapp.domain.models import UTCDateTime

revision = "0005_telegram"
down_revision = "0004_publish"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "telegram_outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("rally_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("next_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("error", sa.String(80), nullable=True),
    )
    op.create_index("ix_telegram_outbox_due", "telegram_outbox", ["delivered_at", "next_at"])
    op.create_table(
        "telegram_message",
        sa.Column("rally_id", sa.Integer(), primary_key=True),
        sa.Column("chat", sa.String(64), primary_key=True),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("revealed", sa.Boolean(), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "telegram_chat",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("language", sa.String(2), nullable=True),
        sa.Column("state", sa.Text(), nullable=True),
        sa.Column("window_at", UTCDateTime(), nullable=False),
        sa.Column("updates", sa.Integer(), nullable=False),
        sa.Column("submissions", sa.Integer(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_telegram_chat_expires_at", "telegram_chat", ["expires_at"])
    op.create_table(
        "telegram_cursor",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("telegram_cursor")
    op.drop_table("telegram_chat")
    op.drop_table("telegram_message")
    op.drop_table("telegram_outbox")
