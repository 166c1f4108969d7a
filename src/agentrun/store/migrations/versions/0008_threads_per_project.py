"""thread ids scoped per project

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 06:40:00

A thread's key becomes (project_id, id): two projects may each have a thread with the same
caller-chosen id, and neither learns the other's exists. The one-active-run-per-thread index and
the thread lookup index of runs gain project_id accordingly.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ACTIVE = "status IN ('running', 'cancelling') AND thread_id IS NOT NULL"


def _threads_primary_key(columns: list[str]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("threads_pkey", "threads", type_="primary")
        op.create_primary_key("threads_pkey", "threads", columns)
        return
    # SQLite cannot change a primary key in place: copy into a table with the new one.
    op.create_table(
        "threads_new",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.PrimaryKeyConstraint(*columns),
    )
    names = "id, project_id, agent_id, title, metadata, created_at, updated_at"
    op.execute(f"INSERT INTO threads_new ({names}) SELECT {names} FROM threads")
    op.drop_index("ix_threads_agent_id", table_name="threads")
    op.drop_index("ix_threads_project_id", table_name="threads")
    op.drop_table("threads")
    op.rename_table("threads_new", "threads")
    op.create_index("ix_threads_agent_id", "threads", ["agent_id"], unique=False)
    op.create_index("ix_threads_project_id", "threads", ["project_id"], unique=False)


def _runs_thread_indexes(columns: list[str]) -> None:
    op.drop_index("uq_runs_one_active_per_thread", table_name="runs")
    op.drop_index("ix_runs_thread_id", table_name="runs")
    op.create_index(
        "uq_runs_one_active_per_thread",
        "runs",
        columns,
        unique=True,
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )
    op.create_index("ix_runs_thread_id", "runs", [*columns, "id"], unique=False)


def upgrade() -> None:
    _threads_primary_key(["project_id", "id"])
    _runs_thread_indexes(["project_id", "thread_id"])


def downgrade() -> None:
    _runs_thread_indexes(["thread_id"])
    _threads_primary_key(["id"])
