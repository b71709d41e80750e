"""Telegram: the bot's own outbox (replies with retries), the start each channel post told,
and the site's own posts (the signing key's fingerprint).

Revision ID: 0017_telegram_outbox
Revises: 0015_moderator_security
"""

import sqlalchemy as sa
from alembic import op

from mapapp.domain.models import UTCDateTime

revision = "0017_telegram_outbox"
down_revision = "0015_moderator_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("telegram_message") as batch:
        batch.add_column(sa.Column("starts_at", UTCDateTime(), nullable=True))
    op.create_table(
        "telegram_reply",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("chat", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),  # sealed (Fernet)
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("next_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(80), nullable=True),
    )
    op.create_table(
        "telegram_notice",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("chat", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(64), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("posted_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("telegram_notice")
    op.drop_table("telegram_reply")
    with op.batch_alter_table("telegram_message") as batch:
        batch.drop_column("starts_at")
