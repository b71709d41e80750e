"""Rate-limit counters in the database: shared by every worker without Redis, or while it is down.

Revision ID: 0007_prod
Revises: 0006_secrets
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_prod"
down_revision = "0006_secrets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limit",
        sa.Column("name", sa.String(300), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_rate_limit_expires_at", "rate_limit", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_rate_limit_expires_at", "rate_limit")
    op.drop_table("rate_limit")
