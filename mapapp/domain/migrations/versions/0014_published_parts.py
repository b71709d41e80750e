"""Each public rally's parts of the feeds, made once when it changes and shared by every
worker and server (mapapp.publishing.partstore).

Revision ID: 0014_published_parts
Revises: 0012_atom

Derived data: an empty table is filled as the feeds are asked for and rallies change
(`flask prepare-parts` fills it at once, and keeps the common documents).
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_published_parts"
down_revision = "0012_atom"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "published_part",
        sa.Column("context", sa.String(400), nullable=False),
        sa.Column("exact", sa.Boolean(), nullable=False),
        sa.Column(
            "rally_id",
            sa.Integer(),
            sa.ForeignKey("published_rally.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("revision", sa.String(40), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("context", "exact", "rally_id"),
    )
    op.create_index("ix_published_part_rally_id", "published_part", ["rally_id"])


def downgrade() -> None:
    op.drop_index("ix_published_part_rally_id", "published_part")
    op.drop_table("published_part")
