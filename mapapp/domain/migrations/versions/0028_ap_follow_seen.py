"""ActivityPub: the signed Date of the newest Follow or Undo per follower hash, kept for the
Date window, so that a Follow replayed after its Undo is refused.

Revision ID: 0028_ap_follow_seen
Revises: 0027_published_chunks
"""

import sqlalchemy as sa
from alembic import op

from mapapp.domain.models import UTCDateTime

revision = "0028_ap_follow_seen"
down_revision = "0027_published_chunks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ap_follow_seen",
        sa.Column("actor_hash", sa.String(64), primary_key=True),
        sa.Column("signed_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_ap_follow_seen_signed_at", "ap_follow_seen", ["signed_at"])


def downgrade() -> None:
    op.drop_index("ix_ap_follow_seen_signed_at", table_name="ap_follow_seen")
    op.drop_table("ap_follow_seen")
