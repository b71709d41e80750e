"""Two-person approval: moderators' approvals of an action on a version of a rally, the
approvers of each audit entry, how many moderators checked a published version, and
organizers known to the moderators.

Revision ID: 0011_approvals
Revises: 0009_revision
"""

import sqlalchemy as sa
from alembic import op

from mapapp.domain.models import UTCDateTime

revision = "0011_approvals"
down_revision = "0009_revision"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "approval",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "rally_id", sa.Integer, sa.ForeignKey("rally.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column(
            "moderator_id",
            sa.Integer,
            sa.ForeignKey("moderator.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("detail", sa.String(300), nullable=False, server_default=""),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("rally_id", "action", "sequence", "moderator_id", name="uq_approval"),
    )
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("approvers", sa.Text, nullable=False, server_default=""))
    with op.batch_alter_table("published_rally") as batch:
        batch.add_column(sa.Column("checked_by", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("organizer_known", sa.Boolean, nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("rally") as batch:
        batch.add_column(sa.Column("organizer_key", sa.String(64)))
        batch.create_index("ix_rally_organizer_key", ["organizer_key"])
    op.create_table(
        "known_organizer",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    # Versions published before: one moderator approved each, unless the operator imported it.
    op.execute(
        "UPDATE published_rally SET checked_by = 1 WHERE id IN (SELECT rally_id FROM audit_log"
        " WHERE actor LIKE 'moderator:%' AND action IN ('approve', 'approve_changes',"
        " 'approve_move', 'edit', 'move', 'restore'))"
    )


def downgrade() -> None:
    op.drop_table("known_organizer")
    with op.batch_alter_table("rally") as batch:
        batch.drop_index("ix_rally_organizer_key")
        batch.drop_column("organizer_key")
    with op.batch_alter_table("published_rally") as batch:
        batch.drop_column("organizer_known")
        batch.drop_column("checked_by")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("approvers")
    op.drop_table("approval")
