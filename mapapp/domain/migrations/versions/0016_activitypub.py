"""ActivityPub: followers' servers (shared inboxes), followers as keyed hashes, the change
queue, the Notes sent, what followers were sent of each rally, and the deliveries.

Revision ID: 0016_activitypub
Revises: 0010_town_region
"""

import sqlalchemy as sa
from alembic import op

from mapapp.domain.models import UTCDateTime

revision = "0016_activitypub"
down_revision = "0010_town_region"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ap_server",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("inbox", sa.String(500), nullable=False, unique=True),
        sa.Column("next_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("failing_since", UTCDateTime()),
        sa.Column("error", sa.String(80)),
    )
    op.create_table(
        "ap_follower",
        sa.Column("actor_hash", sa.String(64), primary_key=True),
        sa.Column(
            "server_id",
            sa.Integer,
            sa.ForeignKey("ap_server.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
    )
    op.create_table(
        "ap_change",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("rally_id", sa.Integer, nullable=False, index=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("done_at", UTCDateTime(), index=True),
    )
    op.create_table(
        "ap_rally",
        sa.Column("rally_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("live", sa.Boolean, nullable=False),
        sa.Column("revealed", sa.Boolean, nullable=False),
        sa.Column("starts_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "ap_note",
        sa.Column("token", sa.String(32), primary_key=True),
        sa.Column("rally_id", sa.Integer, nullable=False, index=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "ap_delivery",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "server_id",
            sa.Integer,
            sa.ForeignKey("ap_server.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("delivered_at", UTCDateTime()),
        sa.Column("attempts", sa.Integer, nullable=False),
    )
    op.create_index("ix_ap_delivery_due", "ap_delivery", ["delivered_at", "server_id"])


def downgrade() -> None:
    for table in ("ap_delivery", "ap_note", "ap_rally", "ap_change", "ap_follower", "ap_server"):
        op.drop_table(table)
