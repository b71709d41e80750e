"""The published version of each public rally, reveal times, the one data version.

Revision ID: 0004_publish
Revises: 0003

Public outputs read `published_rally` only; `rally` stays the working copy. Existing
rallies: approved ones are copied as published; cancelled ones only if a moderator had
approved them (a cancelled rally never approved was a withdrawal: its text was never
reviewed, so it stays private, as `withdrawn`).
"""

import sqlalchemy as sa
from alembic import op

from mapapp.domain.models import UTCDateTime

revision = "0004_publish"
down_revision = "0003"
branch_labels = None
depends_on = None

COPIED = ("id, title, description, town, place, region, geonameid, lat, lon, starts_at, "
          "ends_at, status, featured, sequence, updated_at")  # fmt: skip


def upgrade() -> None:
    with op.batch_alter_table("rally") as batch:
        batch.add_column(sa.Column("reveal_at", UTCDateTime(), nullable=True))
        batch.add_column(
            sa.Column("changes_pending", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "published_rally",
        sa.Column(
            "id", sa.Integer(), sa.ForeignKey("rally.id", ondelete="CASCADE"), primary_key=True
        ),
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
        sa.Column("reveal_at", UTCDateTime(), nullable=True),
        sa.Column("changes_pending", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("sequence", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_published_rally_starts_at", "published_rally", ["starts_at"])
    op.create_index("ix_published_rally_region", "published_rally", ["region"])
    op.create_index("ix_published_rally_reveal_at", "published_rally", ["reveal_at"])
    op.create_table(
        "data_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.execute("INSERT INTO data_version (id, version) VALUES (1, 1)")
    op.execute(
        "UPDATE rally SET status = 'withdrawn' WHERE status = 'rejected'"
        " AND reject_reason = 'withdrawn by the organizer'"
    )
    op.execute(
        "UPDATE rally SET status = 'withdrawn' WHERE status = 'cancelled' AND seed_key IS NULL"
        " AND id NOT IN (SELECT rally_id FROM audit_log"
        " WHERE action = 'approve' AND rally_id IS NOT NULL)"
    )
    op.execute(
        f"INSERT INTO published_rally ({COPIED}) SELECT {COPIED} FROM rally"  # noqa: S608 - constants
        " WHERE status IN ('approved', 'cancelled')"
    )


def downgrade() -> None:
    op.drop_table("data_version")
    op.drop_table("published_rally")
    op.execute("UPDATE rally SET status = 'rejected' WHERE status = 'withdrawn'")
    op.execute("UPDATE rally SET status = 'approved' WHERE status IN ('danger', 'moved')")
    with op.batch_alter_table("rally") as batch:
        batch.drop_column("changes_pending")
        batch.drop_column("reveal_at")
