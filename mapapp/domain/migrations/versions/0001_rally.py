"""The rally table.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from mapapp.domain.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rally",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("town", sa.String(120), nullable=False),
        sa.Column("place", sa.String(200), nullable=False),
        sa.Column("region", sa.String(5), nullable=False),
        sa.Column("geonameid", sa.Integer(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("featured", sa.Boolean(), nullable=False),
        sa.Column("contact", sa.String(200), nullable=True),
        sa.Column("manage_token_hash", sa.String(64), nullable=True, unique=True),
        sa.Column("seed_key", sa.String(64), nullable=True, unique=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_rally_status_starts_at", "rally", ["status", "starts_at"])
    op.create_index("ix_rally_region", "rally", ["region"])
    op.create_index("ix_rally_updated_at", "rally", ["updated_at"])


def downgrade() -> None:
    op.drop_table("rally")
