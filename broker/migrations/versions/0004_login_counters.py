"""login counters: the sign-in throttle in the database, shared by every instance

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import broker.database

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_counters",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_attempt_at", broker.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_allowed_at", broker.database.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_counters")),
    )


def downgrade() -> None:
    op.drop_table("login_counters")
