"""Callback follow-up: an unfilled request remembers its one follow-up request.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("follow_up_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_requests_follow_up_id"), ["follow_up_id"])
        batch_op.create_foreign_key(batch_op.f("fk_requests_follow_up_id_requests"), "requests",
                                    ["follow_up_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_requests_follow_up_id_requests"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_requests_follow_up_id"), type_="unique")
        batch_op.drop_column("follow_up_id")
