"""Usage roll-up per local year: the same sums as `usage_rollup`, kept by the same triggers.

An all-time report over a million ledger rows scanned ~240,000 month cells; whole years now
come from ~30,000 year cells. The triggers are recreated to keep both tiers, and the year
cells are filled from the ledger rows already there.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from broker.ledger import rollup

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "usage_rollup_year",
        sa.Column("local_year", sa.String(length=4), nullable=False),
        *rollup.cell_columns(),
        sa.PrimaryKeyConstraint(*rollup.YEAR.keys, name=op.f("pk_usage_rollup_year")),
        sqlite_with_rowid=False,
    )
    for statement in rollup.drop_trigger_ddl(dialect):
        op.execute(statement)
    for statement in rollup.trigger_ddl(dialect, tiers=[rollup.MONTH, rollup.YEAR]):
        op.execute(statement)
    op.execute(rollup.fill_sql(dialect, bounded=False, tier=rollup.YEAR))


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in rollup.drop_trigger_ddl(dialect):
        op.execute(statement)
    for statement in rollup.trigger_ddl(dialect, tiers=[rollup.MONTH]):
        op.execute(statement)
    op.drop_table("usage_rollup_year")
