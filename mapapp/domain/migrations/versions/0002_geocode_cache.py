"""Cache of online geocoder answers, and the shared throttle.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from mapapp.domain.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "geocode_cache",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "throttle",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("next_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("throttle")
    op.drop_table("geocode_cache")
