"""human in the loop: runs that wait in requires_action

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 14:45:00

A run waiting for a person records the calls it waits for (``pending_actions``), when the wait
times out (``action_deadline``) and how many times it resumed (``resumes``: each resumed
execution is a DBOS workflow of its own). A waiting run keeps its thread: the
one-active-run-per-thread index covers ``requires_action`` too.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

OLD = "status IN ('running', 'cancelling') AND thread_id IS NOT NULL"
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
NEW = "status IN ('running', 'cancelling', 'requires_action') AND thread_id IS NOT NULL"


def _thread_index(where: str) -> None:
    op.drop_index("uq_runs_one_active_per_thread", table_name="runs")
    op.create_index(
        "uq_runs_one_active_per_thread",
        "runs",
        ["project_id", "thread_id"],
        unique=True,
        sqlite_where=sa.text(where),
        postgresql_where=sa.text(where),
    )


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pending_actions", _JSON, nullable=True))
        batch_op.add_column(sa.Column("action_deadline", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("resumes", sa.Integer(), nullable=False, server_default="0"))
    _thread_index(NEW)


def downgrade() -> None:
    _thread_index(OLD)
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("resumes")
        batch_op.drop_column("action_deadline")
        batch_op.drop_column("pending_actions")
