"""Compressed pieces of the feed documents, shared by every worker and server by the digest
of their content (mapapp.publishing.parts, mapapp.publishing.partstore), and whole gzipped
documents of the current data version by their ETag.

Revision ID: 0027_published_chunks
Revises: 0017_telegram_outbox

Derived data: an empty table is filled as documents are built.
"""

import sqlalchemy as sa
from alembic import op

revision = "0027_published_chunks"
down_revision = "0017_telegram_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "published_chunk",
        sa.Column("digest", sa.LargeBinary(32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest"),
    )
    op.create_index("ix_published_chunk_made_at", "published_chunk", ["made_at"])
    op.create_table(
        "published_document",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("version", sa.String(80), nullable=False),
        sa.Column("gz", sa.LargeBinary(), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_published_document_version", "published_document", ["version"])


def downgrade() -> None:
    op.drop_index("ix_published_document_version", "published_document")
    op.drop_table("published_document")
    op.drop_index("ix_published_chunk_made_at", "published_chunk")
    op.drop_table("published_chunk")
