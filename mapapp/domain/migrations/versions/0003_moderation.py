"""Moderators, the audit log, and what moderation adds to a rally.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from mapapp.domain.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rally") as batch:
        batch.add_column(sa.Column("reject_reason", sa.String(300), nullable=True))
        batch.add_column(sa.Column("sequence", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "moderator",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(80), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column(
            "rally_id", sa.Integer(), sa.ForeignKey("rally.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_index("ix_audit_log_rally_id", "audit_log", ["rally_id"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("moderator")
    with op.batch_alter_table("rally") as batch:
        batch.drop_column("sequence")
        batch.drop_column("reject_reason")
