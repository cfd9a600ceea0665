"""Bookings: remember where a no-show went, and whether a withdrawn booking had been confirmed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "booking_escalations",
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["booking_id"], ["requests.id"],
                                name=op.f("fk_booking_escalations_booking_id_requests")),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"],
                                name=op.f("fk_booking_escalations_request_id_requests")),
        sa.PrimaryKeyConstraint("booking_id", name=op.f("pk_booking_escalations")),
        sa.UniqueConstraint("request_id", name=op.f("uq_booking_escalations_request_id")),
    )
    with op.batch_alter_table("booking_declines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confirmed", sa.Boolean(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("booking_declines", schema=None) as batch_op:
        batch_op.drop_column("confirmed")
    op.drop_table("booking_escalations")
