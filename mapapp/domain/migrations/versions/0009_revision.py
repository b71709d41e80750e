"""A restore never rewinds: the data version's epoch (new at every restore) and the floor
under new rally ids (the highest id ever given, kept across a restore). And a public rally's
start time before its last time change, for "the time has changed: it was ...".

Revision ID: 0009_revision
Revises: 0008_feeds
"""

import sqlalchemy as sa
from alembic import op

from mapapp.domain.models import UTCDateTime

revision = "0009_revision"
down_revision = "0008_feeds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("data_version") as batch:
        batch.add_column(sa.Column("epoch", sa.String(32), nullable=False, server_default=""))
        batch.add_column(sa.Column("id_floor", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("published_rally") as batch:
        batch.add_column(sa.Column("previous_starts_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("published_rally") as batch:
        batch.drop_column("previous_starts_at")
    with op.batch_alter_table("data_version") as batch:
        batch.drop_column("id_floor")
        batch.drop_column("epoch")
