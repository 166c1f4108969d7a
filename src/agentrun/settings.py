"""Settings: environment variables with the prefix ``AGENTRUN_`` (nested groups with ``__``).

Built only in entry points (``agentrun serve``, ``agentrun worker``, test fixtures), never at
import time. Validators fail loudly so a bad deployment stops at start, not at the first run.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import tempfile
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class LimitSettings(BaseModel):
    """Explicit limits, documented in docs/configuration.md."""

    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest request body; larger -> 413.")
    default_page_size: int = Field(50, ge=1)
    max_page_size: int = Field(200, ge=1)
    sync_wait_s: float = Field(
        60.0, gt=0, description="How long a sync run request waits before answering 202."
    )
    max_long_poll_s: float = Field(60.0, gt=0, description="Cap on GET /v1/runs/{id}?wait_s=.")
    sse_heartbeat_s: float = Field(15.0, gt=0, description="Idle SSE streams get a comment this often.")
    default_timeout_s: float = Field(
        600.0, gt=0, description="Run timeout when neither run nor agent sets one."
    )
    action_timeout_s: float = Field(
        86_400.0, gt=0, description="Longest wait of a run in requires_action when its agent sets none."
    )
    default_max_turns: int = Field(
        50, ge=1, description="Model requests per run when neither run nor agent sets it."
    )
    max_queued_per_project: int = Field(
        10_000, ge=1, description="Queued runs a project may have; more -> 429 with Retry-After."
    )
    retention_days: float = Field(
        30.0, gt=0, description="Finished runs and their events older than this are deleted."
    )
    # Connection limits, applied where uvicorn starts (api/server.py, api/http_protocol.py).
    max_header_bytes: int = Field(
        65_536, ge=1024, description="Largest request head (request line + headers); larger -> 431, closed."
    )
    header_timeout_s: float = Field(
        10.0,
        gt=0,
        description="A connection must send a whole request head this soon after connecting (or after "
        "its previous response), else it is closed.",
    )
    keep_alive_timeout_s: float = Field(
        5.0, gt=0, description="An idle keep-alive connection is closed after this."
    )
    max_connections: int = Field(
        2048, ge=1, description="Open connections one process serves; a request beyond them -> 503."
    )

    @model_validator(mode="after")
    def _pages(self) -> LimitSettings:
        if self.default_page_size > self.max_page_size:
            raise ValueError("limits.default_page_size must not exceed limits.max_page_size")
        return self


class OpenAICompatible(BaseModel):
    base_url: str
    api_key: SecretStr | None = None


class ProviderSettings(BaseModel):
    """Provider keys. Each falls back to the provider's usual variable (OPENAI_API_KEY, ...)."""

    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    anthropic_api_key: SecretStr | None = None
    google_api_key: SecretStr | None = None
    groq_api_key: SecretStr | None = None
    mistral_api_key: SecretStr | None = None
    deepseek_api_key: SecretStr | None = None
    together_api_key: SecretStr | None = None
    ollama_base_url: str = "http://127.0.0.1:11434/v1"
    # Any OpenAI-compatible server under a provider name of your choice: model "NAME:model".
    compatible: dict[str, OpenAICompatible] = Field(default_factory=dict)
    offline_fallback: bool = Field(
        True, description="With no key for a provider, run the offline test model instead (labelled as such)."
    )


class RegisteredMCPServer(BaseModel):
    """An MCP server the operator registered by name; agents use it as ``{"kind": "mcp", "server": NAME}``."""

    command: str | None = Field(None, description="stdio: the program to start (with `args`).")
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict, description="Added to the stdio server's environment.")
    url: str | None = Field(None, description="Streamable HTTP endpoint (instead of `command`).")
    timeout_s: float | None = Field(
        None, gt=0, description="Connect/request timeout; default tools.mcp_timeout_s."
    )
    in_sandbox: bool = Field(
        False, description="stdio only: start the server inside the run's sandbox (the run then gets one)."
    )

    @model_validator(mode="after")
    def _one_transport(self) -> RegisteredMCPServer:
        if (self.command is None) == (self.url is None):
            raise ValueError("a registered MCP server needs exactly one of `command` (stdio) or `url`")
        if self.in_sandbox and self.command is None:
            raise ValueError("`in_sandbox` applies to stdio servers (`command`) only")
        return self


class ToolSettings(BaseModel):
    """Tools (docs/tools.md). Code that runs in the server comes only from here, never from an API caller."""

    http_allow_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts or IPs the http_get tool may reach even when they are loopback/private (e.g. 127.0.0.1).",
    )
    http_timeout_s: float = 10.0
    http_max_bytes: int = 1_048_576
    mcp_timeout_s: float = 30.0
    mcp_allow_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts, IPs or CIDRs MCP servers given by `url` may reach even when loopback/private.",
    )
    python: dict[str, str] = Field(
        default_factory=dict,
        description="Operator-registered Python tools: name -> 'package.module:function'.",
    )
    entry_points: bool = Field(
        True,
        description="Also register the Python tools of installed packages' `agentrun.tools` entry points.",
    )
    mcp_servers: dict[str, RegisteredMCPServer] = Field(
        default_factory=dict, description="Operator-registered MCP servers by name."
    )
    allow_unregistered: bool | None = Field(
        None,
        description=(
            "Let agent definitions carry raw Python `ref`s and raw stdio `command`s (code on the server). "
            "null (default): only while the server is keyless on loopback (the caller is the operator)."
        ),
    )


class SandboxSettings(BaseModel):
    """Sandboxes (docs/sandbox.md): per-command limits (agents may lower or raise them up to
    ``max_*``), sizes, retention."""

    bwrap_path: str = Field("bwrap", description="The bubblewrap binary (Debian package `bubblewrap`).")
    allow_network: bool = Field(
        False, description="Let agents ask for network inside their sandbox (it shares the host's network)."
    )
    wall_s: float = Field(60.0, gt=0, description="Default wall-clock limit per command.")
    cpu_s: int = Field(60, ge=1, description="Default CPU seconds per command.")
    memory_mb: int = Field(512, ge=16, description="Default memory (address space) per command.")
    max_processes: int = Field(64, ge=1, description="Default processes per command.")
    max_file_mb: int = Field(64, ge=1, description="Default largest file a command may write.")
    max_output_bytes: int = Field(
        65_536, ge=1024, description="Default output (stdout+stderr) kept per command."
    )
    ceiling_wall_s: float = Field(600.0, gt=0, description="The most wall_s an agent may ask for.")
    ceiling_memory_mb: int = Field(4096, ge=16, description="The most memory_mb an agent may ask for.")
    max_workspace_mb: int = Field(256, ge=1, description="Largest workspace (all files) of one sandbox.")
    max_project_mb: int = Field(2048, ge=1, description="All sandboxes of one project together.")
    max_upload_bytes: int = Field(
        50 * 1_048_576, ge=1024, description="Largest file or archive uploaded to a sandbox in one request."
    )
    max_read_bytes: int = Field(262_144, ge=1024, description="Most bytes the read_file tool returns.")
    retention_days: float = Field(14.0, gt=0, description="Sandboxes unused this long are deleted.")
    workdir: Path | None = Field(
        None,
        description=(
            "Where this process keeps its local copies of workspaces (the store holds the real ones). "
            "Every parent must be traversable by the sandbox's unprivileged user; default: a folder "
            "under the system temp dir, per data dir."
        ),
    )


class WebhookSettings(BaseModel):
    """Webhook delivery (docs/webhooks.md)."""

    allow_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts, IPs or CIDRs webhooks may reach even when loopback/private (e.g. 127.0.0.1).",
    )
    backoff_s: list[float] = Field(
        default_factory=lambda: [5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0],
        min_length=1,
        description="Waits between attempts; the last one repeats until retry_for_s has passed.",
    )
    retry_for_s: float = Field(86400.0, ge=0, description="Keep retrying until this much waiting has passed.")
    timeout_s: float = Field(10.0, gt=0, description="Per-attempt HTTP timeout.")
    poll_s: float = Field(1.0, gt=0, description="How often a worker looks for new deliveries.")


class SecuritySettings(BaseModel):
    """Who may address the server (docs/configuration.md)."""

    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names (or name:port) besides localhost/127.0.0.1/[::1] a keyless loopback "
        "server answers to; others get 403 (DNS-rebinding protection).",
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="With keys required, `Authorization: Bearer TOKEN` reads /metrics and /readyz details.",
    )


class ModelPrice(BaseModel):
    input: float = Field(0.0, ge=0, description="USD per million input tokens.")
    output: float = Field(0.0, ge=0, description="USD per million output tokens.")


class ObservabilitySettings(BaseModel):
    """Logs, metrics, traces, cost (docs/observability.md)."""

    log_format: str = Field(
        "text", pattern="^(text|json)$", description="Log lines as readable text or JSON."
    )
    access_log: bool = Field(
        False, description="One log line per HTTP request (method, route, status, time)."
    )
    tracing: bool = Field(
        False,
        description="OpenTelemetry traces, exported by OTLP as the standard OTEL_* variables say (needs "
        "the `otel` extra). Also on when OTEL_EXPORTER_OTLP_ENDPOINT or ..._TRACES_ENDPOINT is set.",
    )
    trace_content: bool = Field(
        False, description="Put prompts, model output and tool arguments/results on spans (may be sensitive)."
    )
    metrics_port: int | None = Field(
        None, description="A worker-only process serves its /metrics on this port (on metrics_host)."
    )
    metrics_host: str = Field("127.0.0.1", description="Where a worker-only process serves its metrics.")
    prices: dict[str, ModelPrice] = Field(
        default_factory=dict,
        description="USD per million tokens by model string (e.g. 'openai:gpt-4o'): turns tokens into cost.",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AGENTRUN_", env_nested_delimiter="__", extra="ignore")

    data_dir: Path = Path(".agentrun")
    database_url: str | None = Field(None, description="Store URL; default: SQLite file in data_dir.")
    system_database_url: str | None = Field(
        None, description="DBOS system DB URL; default: SQLite in data_dir."
    )
    host: str = "127.0.0.1"
    port: int = 8000
    executor_id: str | None = Field(
        None, description="Stable, unique per process; default derived from host + data."
    )
    app_version: str = Field(
        "agentrun-1", description="Pinned so runs outlive a code change (see docs/deployment.md)."
    )
    run_worker: bool = Field(True, description="Execute runs in this process (embedded mode).")
    worker_concurrency: int = Field(1000, ge=1, description="Runs one process executes at once.")
    dispatch_poll_s: float = Field(
        0.5, gt=0, description="How often a worker looks for queued runs it was not told of."
    )
    heartbeat_s: float = Field(5.0, gt=0, description="How often a worker records that it is alive.")
    dead_after_s: float = Field(
        20.0, gt=0, description="A worker silent this long is dead; its runs are taken over."
    )
    reap_after_s: float = Field(
        120.0, gt=0, description="A taken-over run nobody resumed this long fails as lost."
    )
    shutdown_grace_s: float = Field(10.0, ge=0, description="On SIGTERM, how long in-flight runs may finish.")
    default_durability: str = Field("steps", pattern="^(steps|exit)$")
    auth_mode: str = Field(
        "auto",
        pattern="^(auto|required|disabled)$",
        description="auto: keys required unless the server listens on loopback only; required; disabled.",
    )
    demo_agent: bool = Field(True, description="Register the `demo` agent at start if it does not exist.")
    log_level: str = "info"
    limits: LimitSettings = Field(default_factory=LimitSettings)
    providers: ProviderSettings = Field(default_factory=ProviderSettings)
    tools: ToolSettings = Field(default_factory=ToolSettings)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)  # webhooks: allow-list, retry schedule
    security: SecuritySettings = Field(default_factory=SecuritySettings)  # Host checks, metrics token
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)  # logs, traces

    @model_validator(mode="after")
    def _liveness(self) -> Settings:
        if self.dead_after_s < 2 * self.heartbeat_s:
            raise ValueError("dead_after_s must be at least 2x heartbeat_s, or live workers look dead")
        return self

    @property
    def store_url(self) -> str:
        if self.database_url:
            return _async_driver(self.database_url)
        return f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'agentrun.sqlite'}"

    @property
    def dbos_url(self) -> str:
        if self.system_database_url:
            return self.system_database_url
        if self.database_url and self.database_url.startswith("postgres"):
            return _sync_driver(self.database_url)
        return f"sqlite:///{self.data_dir.resolve() / 'dbos.sqlite'}"

    @property
    def sandbox_workdir(self) -> Path:
        if self.sandbox.workdir is not None:
            return self.sandbox.workdir.resolve()
        # Not under data_dir: that is private (0700), and the sandbox's user must reach its workspace.
        digest = hashlib.sha256(str(self.data_dir.resolve()).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"agentrun-sandboxes-{digest}"

    @property
    def keyless_loopback(self) -> bool:
        """Requests need no key and only this machine can connect: the caller is the operator."""
        return self.auth_mode in ("auto", "disabled") and is_loopback(self.host)

    @property
    def unregistered_tools_allowed(self) -> bool:
        """Whether agents may carry raw Python refs / stdio commands (see ToolSettings.allow_unregistered)."""
        if self.tools.allow_unregistered is not None:
            return self.tools.allow_unregistered
        return self.keyless_loopback

    @property
    def is_postgres(self) -> bool:
        return self.store_url.startswith("postgresql")

    def ensure_data_dir(self) -> None:
        """Create the data dir private (0700) and the SQLite files owner-only (0600): they hold
        run data and webhook signing secrets. SQLite creates a database's -wal/-shm/-journal
        files with the database file's mode, so a 0600 database file (created empty here, which
        SQLite takes as a new database) covers them too. An existing dir keeps its mode (it may
        be shared on purpose); the files in it are made owner-only."""
        if not self.data_dir.exists():
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.data_dir.chmod(0o700)  # mkdir's mode passes through the umask
        for url in (self.store_url, self.dbos_url):
            if url.startswith("sqlite") and ":///" in url:
                database = Path(url.split(":///", 1)[1].split("?", 1)[0])
                _private_file(database, create=True)
                for suffix in ("-wal", "-shm", "-journal"):
                    _private_file(database.with_name(database.name + suffix), create=False)
        _private_file(self.data_dir / "executor-id", create=False)

    def resolved_executor_id(self) -> str:
        """A stable id per process: from settings, else host name + an id persisted in data_dir."""
        if self.executor_id:
            return self.executor_id
        self.ensure_data_dir()
        marker = self.data_dir / "executor-id"
        if not marker.exists():
            import uuid

            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(f"{os.uname().nodename}-{uuid.uuid4().hex[:12]}")
        return marker.read_text().strip()


def _private_file(path: Path, create: bool) -> None:
    """Make ``path`` owner-only (0600); with ``create``, create it empty first if missing."""
    if create and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
    except FileNotFoundError:
        pass


def is_loopback(host: str) -> bool:
    """True for a host name or address that only this machine can reach."""
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _async_driver(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.split(":///", 1)[1]
    return url


def _sync_driver(url: str) -> str:
    rest = url.split("://", 1)[1]
    return "postgresql://" + rest
