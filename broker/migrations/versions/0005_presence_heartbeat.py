"""Interpreter liveness: when an instance last proved the interpreter's socket alive.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("interpreter_profiles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("presence_seen_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("interpreter_profiles", schema=None) as batch_op:
        batch_op.drop_column("presence_seen_at")
