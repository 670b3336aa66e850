"""The language a reporter used: ``contacts.language`` (issue 24).

A citizen's e-mails go out in the language of the page (or the ``Accept-Language``) they
reported in; ``""`` (every older contact) means the city's default language.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``contacts.language`` (empty for the contacts already stored)."""
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(
            sa.Column("language", sa.String(length=16), nullable=False, server_default="")
        )


def downgrade() -> None:
    """Drop ``contacts.language``."""
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("language")
