"""Feeds' news: each rally's random feed key (its Atom id with the rally id, never repeated
after a restore) and the table of public changes feeds tell (mapapp.domain.news).

Revision ID: 0012_atom
Revises: 0011_approvals
"""

import secrets

import sqlalchemy as sa
from alembic import op

from mapapp.domain.models import UTCDateTime

revision = "0012_atom"
down_revision = "0011_approvals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rally") as batch:
        batch.add_column(sa.Column("feed_key", sa.String(16), nullable=True))
    op.create_table(
        "rally_news",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "rally_id", sa.Integer(), sa.ForeignKey("rally.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("previous_starts_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_rally_news_rally_id", "rally_news", ["rally_id"])
    connection = op.get_bind()
    ids = [row[0] for row in connection.execute(sa.text("SELECT id FROM rally"))]
    for rally_id in ids:
        connection.execute(
            sa.text("UPDATE rally SET feed_key = :key WHERE id = :id"),
            {"key": secrets.token_hex(8), "id": rally_id},
        )
    # The start each public rally has now: a later change of it is "rescheduled".
    connection.execute(
        sa.text(
            "INSERT INTO rally_news (rally_id, kind, at, starts_at) "
            "SELECT id, 'published', updated_at, starts_at FROM published_rally"
        )
    )


def downgrade() -> None:
    op.drop_index("ix_rally_news_rally_id", "rally_news")
    op.drop_table("rally_news")
    with op.batch_alter_table("rally") as batch:
        batch.drop_column("feed_key")
