"""SQLAlchemy tables. The same schema serves SQLite and PostgreSQL.

Queries use SQLAlchemy Core on these tables (no ORM identity map on the hot path): a run
writes many small rows and the ORM's bookkeeping costs more than the write itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSONType, list[Any]: JSONType, Any: JSONType}


def table_of(row: type[Base]) -> sa.Table:
    """The Core table of a mapped row class, for the repositories' statements.

    ``__table__`` is typed as a FromClause, which has no insert/update/delete to a type checker.
    """
    table = row.__table__
    assert isinstance(table, sa.Table)
    return table


class ProjectRow(Base):
    __tablename__ = "projects"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class AgentRow(Base):
    __tablename__ = "agents"
    __table_args__ = (sa.UniqueConstraint("project_id", "slug", name="uq_agents_project_slug"),)
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("projects.id"), index=True)
    slug: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    archived: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    latest_revision: Mapped[int] = mapped_column(sa.Integer)
    published_revision: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    # Operational, not part of a revision: how many of the agent's runs may execute at once.
    max_concurrency: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class RevisionRow(Base):
    __tablename__ = "revisions"
    __table_args__ = (sa.UniqueConstraint("agent_id", "number", name="uq_revisions_agent_number"),)
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    agent_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("agents.id"), index=True)
    number: Mapped[int] = mapped_column(sa.Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class ThreadRow(Base):
    __tablename__ = "threads"
    # Thread ids are the caller's (MCP, compat 004) and scoped per project: another project's
    # thread of the same id is a different thread, and its existence is never revealed.
    __table_args__ = (sa.PrimaryKeyConstraint("project_id", "id"),)
    id: Mapped[str] = mapped_column(sa.String(64))
    project_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("projects.id"), index=True)
    agent_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True, index=True)
    title: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


# Runs on a thread are serialized: at most one of them may be running or cancelling. The partial
# unique index makes the database refuse a second active run, so the rule holds across processes
# and machines without any lock held in Python.
# A run waiting for a person (requires_action) keeps its thread too (migration 0009).
ACTIVE_STATUSES_SQL = "status IN ('running', 'cancelling', 'requires_action')"


class RunRow(Base):
    __tablename__ = "runs"
    __table_args__ = (
        sa.Index(
            "uq_runs_one_active_per_thread",
            "project_id",
            "thread_id",
            unique=True,
            sqlite_where=sa.text(ACTIVE_STATUSES_SQL + " AND thread_id IS NOT NULL"),
            postgresql_where=sa.text(ACTIVE_STATUSES_SQL + " AND thread_id IS NOT NULL"),
        ),
        sa.Index(
            "uq_runs_idempotency",
            "project_id",
            "idempotency_key",
            unique=True,
            sqlite_where=sa.text("idempotency_key IS NOT NULL"),
            postgresql_where=sa.text("idempotency_key IS NOT NULL"),
        ),
        sa.Index("ix_runs_status_id", "status", "id"),
        sa.Index("ix_runs_project_id", "project_id", "id"),
        sa.Index("ix_runs_thread_id", "project_id", "thread_id", "id"),
        sa.Index("ix_runs_agent_id", "agent_id", "id"),
    )
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(sa.String(64))
    agent_id: Mapped[str] = mapped_column(sa.String(64))
    agent_slug: Mapped[str] = mapped_column(sa.String(64))
    revision: Mapped[int] = mapped_column(sa.Integer)
    thread_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    status: Mapped[str] = mapped_column(sa.String(16))
    mode: Mapped[str] = mapped_column(sa.String(8))
    durability: Mapped[str] = mapped_column(sa.String(8))
    prompt: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    input: Mapped[Any] = mapped_column(JSONType, nullable=True)
    messages: Mapped[Any] = mapped_column(JSONType, nullable=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSONType)
    output_schema: Mapped[Any] = mapped_column(JSONType, nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType)
    model: Mapped[str] = mapped_column(sa.String(200), default="")
    offline: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    result: Mapped[Any] = mapped_column(JSONType, nullable=True)
    result_type: Mapped[str | None] = mapped_column(sa.String(8), nullable=True)
    usage: Mapped[dict[str, Any]] = mapped_column(JSONType)
    iterations: Mapped[int] = mapped_column(sa.Integer, default=0)
    error: Mapped[Any] = mapped_column(JSONType, nullable=True)
    last_seq: Mapped[int] = mapped_column(sa.Integer, default=0)
    # pydantic-ai messages this run added (JSON), the model history of the runs after it.
    new_messages: Mapped[Any] = mapped_column(JSONType, nullable=True)
    webhook_url: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    sandbox_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    # requires_action: the calls the run waits for, with their answers as they come (JSON list).
    pending_actions: Mapped[Any] = mapped_column(JSONType, nullable=True)
    action_deadline: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    # How many times the run resumed after a wait: execution n > 0 is DBOS workflow "<id>.resume-<n>".
    resumes: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    cached_workflow: Mapped[Any] = mapped_column(JSONType, nullable=True)
    multitask: Mapped[str] = mapped_column(sa.String(10), default="enqueue")
    executor_id: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    attempt: Mapped[int] = mapped_column(sa.Integer, default=0)
    # Set when the run's worker was found dead and the run awaits adoption by a live one.
    orphaned_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    request_hash: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)


class SandboxRow(Base):
    """A sandbox's workspace, persisted as one archive so it follows its thread to any worker."""

    __tablename__ = "sandboxes"
    __table_args__ = (
        # One sandbox per thread (NULLs never collide: sandboxes of no thread are unlimited).
        sa.Index("uq_sandboxes_thread", "project_id", "thread_id", unique=True),
        sa.Index("ix_sandboxes_project", "project_id", "id"),
    )
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("projects.id"))
    thread_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    # Bumped by every write of the archive: a worker's local copy is current when versions match.
    version: Mapped[int] = mapped_column(sa.Integer, default=0)
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    archive_bytes: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    file_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    archive: Mapped[bytes | None] = mapped_column(sa.LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    last_used_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class EventRow(Base):
    __tablename__ = "events"
    run_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    type: Mapped[str] = mapped_column(sa.String(32))
    role: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    content: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    data: Mapped[Any] = mapped_column(JSONType, nullable=True)
    level: Mapped[str] = mapped_column(sa.String(8), default="info")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class ApiKeyRow(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    # Only a SHA-256 of the key is kept; the key itself is shown once, at creation.
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(16))
    admin: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)


class WorkerRow(Base):
    """A worker process's heartbeat: how live workers find a dead one's runs to take over."""

    __tablename__ = "workers"
    executor_id: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    host: Mapped[str] = mapped_column(sa.String(200))
    pid: Mapped[int] = mapped_column(sa.Integer)
    version: Mapped[str] = mapped_column(sa.String(64))
    started_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    heartbeat_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), index=True)
    active_runs: Mapped[int] = mapped_column(sa.Integer, default=0)


# --- webhooks (docs/webhooks.md) -------------------------------------------------------------


class WebhookEndpointRow(Base):
    """A project's subscription: finished runs of the project are POSTed to ``url``."""

    __tablename__ = "webhook_endpoints"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("projects.id"), index=True)
    url: Mapped[str] = mapped_column(sa.Text)
    description: Mapped[str] = mapped_column(sa.String(500), default="")
    events: Mapped[list[Any]] = mapped_column(JSONType)
    # Kept in clear: it signs every delivery. Shown to the client once, at creation.
    secret: Mapped[str] = mapped_column(sa.String(100))
    enabled: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class WebhookSecretRow(Base):
    """The per-project secret that signs deliveries to runs' own ``webhook_url`` (made lazily)."""

    __tablename__ = "webhook_secrets"
    project_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("projects.id"), primary_key=True)
    secret: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class WebhookDeliveryRow(Base):
    """One event to one URL; written in the transaction that finishes the run, so never lost."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.Index("ix_webhook_deliveries_state_id", "state", "id"),
        sa.Index("ix_webhook_deliveries_run_id", "run_id", "id"),
        sa.Index("ix_webhook_deliveries_endpoint_id", "endpoint_id", "id"),
    )
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # also the webhook-id header
    project_id: Mapped[str] = mapped_column(sa.String(64))
    run_id: Mapped[str] = mapped_column(sa.String(64))
    endpoint_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)  # None: run's webhook_url
    url: Mapped[str] = mapped_column(sa.Text)
    event_type: Mapped[str] = mapped_column(sa.String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # pending -> delivering -> delivered | failed | gone | cancelled
    state: Mapped[str] = mapped_column(sa.String(16))
    attempt_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)


class WebhookAttemptRow(Base):
    __tablename__ = "webhook_attempts"
    delivery_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    n: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    duration_ms: Mapped[float] = mapped_column(sa.Float)
    status_code: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    outcome: Mapped[str] = mapped_column(sa.String(16))  # delivered | retry | gone | failed
