"""Alembic environment: always run from mapapp.domain.db.upgrade_schema with a live connection."""

from alembic import context

from mapapp.domain.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite can only ALTER through table copies
)
with context.begin_transaction():
    context.run_migrations()
