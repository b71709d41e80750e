"""A rally's region is its town's, not its pin's: near a region's border the pin's region told
which side of it a hidden place was on (through the API and the ?region= filter).

Rows with a town from the gazetteer get that town's region; the public data version moves, so
no cache keeps the old regions.

Revision ID: 0010_town_region
Revises: 0014_published_parts
"""

import sqlalchemy as sa
from alembic import op
from flask import current_app, has_app_context

revision = "0010_town_region"
down_revision = "0014_published_parts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if not has_app_context() or "mapapp.gazetteer" not in current_app.extensions:
        return  # outside the app (alembic by hand) there is no gazetteer: regions stay
    gazetteer = current_app.extensions["mapapp.gazetteer"]
    connection = op.get_bind()
    moved = 0
    for table in ("rally", "published_rally"):
        rows = connection.execute(
            sa.text(f"SELECT DISTINCT geonameid FROM {table} WHERE geonameid IS NOT NULL")  # noqa: S608
        ).scalars()
        for geonameid in list(rows):
            town = gazetteer.by_id(int(geonameid))
            if town is None or not town.region:
                continue
            moved += connection.execute(
                sa.text(
                    f"UPDATE {table} SET region = :region "  # noqa: S608 - our table names
                    "WHERE geonameid = :geonameid AND region != :region"
                ),
                {"region": town.region, "geonameid": geonameid},
            ).rowcount
    if moved:
        connection.execute(sa.text("UPDATE data_version SET version = version + 1 WHERE id = 1"))


def downgrade() -> None:
    pass  # the pins' regions are not kept: nothing to go back to
