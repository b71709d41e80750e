"""Revocable moderator sessions, login failures counted per account, contacts encrypted.

Revision ID: 0006_secrets
Revises: 0005_telegram
"""

import sqlalchemy as sa
from alembic import op

from mapapp.domain.models import UTCDateTime

revision = "0006_secrets"
down_revision = "0005_telegram"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("moderator") as batch:
        batch.add_column(
            sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0")
        )
    # An encrypted contact is longer than the 200 characters typed.
    with op.batch_alter_table("rally") as batch:
        batch.alter_column("contact", type_=sa.Text(), existing_type=sa.String(200))
    op.create_table(
        "login_failure",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_login_failure_key_at", "login_failure", ["key", "at"])


def downgrade() -> None:
    op.drop_table("login_failure")
    with op.batch_alter_table("rally") as batch:
        batch.alter_column("contact", type_=sa.String(200), existing_type=sa.Text())
    with op.batch_alter_table("moderator") as batch:
        batch.drop_column("session_epoch")
