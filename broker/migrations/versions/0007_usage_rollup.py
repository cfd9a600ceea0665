"""Usage roll-up: the ledger summed per local month × office × kind × district × language, kept by triggers.

Creates `usage_rollup`, the triggers that keep it (broker/ledger/rollup.py says why triggers),
and fills it from the ledger rows already there.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from broker.ledger import rollup

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "usage_rollup",
        sa.Column("local_month", sa.String(length=7), nullable=False),
        *rollup.cell_columns(),
        sa.PrimaryKeyConstraint(*rollup.KEYS, name=op.f("pk_usage_rollup")),
        sqlite_with_rowid=False,
    )
    dialect = op.get_bind().dialect.name
    for statement in rollup.trigger_ddl(dialect, tiers=[rollup.MONTH]):
        op.execute(statement)
    op.execute(rollup.fill_sql(dialect, bounded=False, tier=rollup.MONTH))


def downgrade() -> None:
    for statement in rollup.drop_trigger_ddl(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table("usage_rollup")
