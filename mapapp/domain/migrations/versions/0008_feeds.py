"""The public list's order as a covering index: a feed's rebuild reads its rows' versions
(id, updated_at, changes_pending) in order from the index alone, without sorting the table.

Revision ID: 0008_feeds
Revises: 0007_prod
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_feeds"
down_revision = "0007_prod"
branch_labels = None
depends_on = None

COLUMNS = [sa.text("featured DESC"), "starts_at", "id", "updated_at", "changes_pending"]


def upgrade() -> None:
    op.create_index("ix_published_rally_list", "published_rally", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_published_rally_list", "published_rally")
