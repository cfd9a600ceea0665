"""PostgreSQL: refuse double booking in the database itself.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

SQLite has no exclusion constraints; there the booking service checks for overlaps inside
its BEGIN IMMEDIATE transaction, which serialises all writers and is therefore race-free.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.execute(
        "ALTER TABLE requests ADD CONSTRAINT ex_requests_no_double_booking "
        "EXCLUDE USING gist (interpreter_id WITH =, "
        "tstzrange(scheduled_start, scheduled_end, '[)') WITH &&) "
        "WHERE (mode = 'booked' AND status IN ('assigned', 'open', 'connected') "
        "AND interpreter_id IS NOT NULL)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE requests DROP CONSTRAINT IF EXISTS ex_requests_no_double_booking")
