"""Alembic environment: runs on the connection agentrun.store.db.upgrade hands it."""

from alembic import context

from agentrun.store.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `agentrun db upgrade` (agentrun.store.db.upgrade)")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
