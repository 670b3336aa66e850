"""Alembic environment: run geo311's revisions on the connection the store hands over."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "geo311 migrations run on an open connection: use geo311.db.store.Store(url).migrate() "
        "(or pass config.attributes['connection']) instead of the alembic command line"
    )
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
