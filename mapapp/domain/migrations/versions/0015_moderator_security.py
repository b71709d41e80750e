"""Moderators under pressure: a second factor (TOTP, recovery codes), suspension by two
moderators with the revert of the suspended one's actions, and visitors' reports.

Revision ID: 0015_moderator_security
Revises: 0016_activitypub
"""

import sqlalchemy as sa
from alembic import op

from mapapp.domain.models import UTCDateTime

revision = "0015_moderator_security"
down_revision = "0016_activitypub"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("moderator") as batch:
        batch.add_column(sa.Column("totp_secret", sa.Text))
        batch.add_column(
            sa.Column("totp_enabled", sa.Boolean, nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("totp_last_step", sa.BigInteger, nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("suspended_at", UTCDateTime()))
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("before", sa.Text))
    op.create_table(
        "recovery_code",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "moderator_id",
            sa.Integer,
            sa.ForeignKey("moderator.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("used_at", UTCDateTime()),
    )
    op.create_index("ix_recovery_code_moderator_id", "recovery_code", ["moderator_id"])
    op.create_table(
        "moderator_vote",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "target_id",
            sa.Integer,
            sa.ForeignKey("moderator.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "voter_id",
            sa.Integer,
            sa.ForeignKey("moderator.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("hours", sa.Integer, nullable=False, server_default="0"),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("target_id", "voter_id", name="uq_moderator_vote"),
    )
    op.create_table(
        "visitor_report",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "rally_id", sa.Integer, sa.ForeignKey("rally.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("text", sa.String(300), nullable=False, server_default=""),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("handled_at", UTCDateTime()),
        sa.Column("handled_by", sa.String(80)),
    )
    op.create_index("ix_visitor_report_rally_id", "visitor_report", ["rally_id"])


def downgrade() -> None:
    op.drop_index("ix_visitor_report_rally_id", "visitor_report")
    op.drop_table("visitor_report")
    op.drop_table("moderator_vote")
    op.drop_index("ix_recovery_code_moderator_id", "recovery_code")
    op.drop_table("recovery_code")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("before")
    with op.batch_alter_table("moderator") as batch:
        batch.drop_column("suspended_at")
        batch.drop_column("totp_last_step")
        batch.drop_column("totp_enabled")
        batch.drop_column("totp_secret")
