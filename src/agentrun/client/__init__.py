"""The agentrun Python SDK: sync and async clients of the native ``/v1`` API.

It depends on httpx and pydantic only, never on the server's modules, so it can be installed and
used on its own. Everything public is listed in ``__all__``; the ``_``-prefixed modules are not
part of the API.

    >>> from agentrun.client import Client
    >>> with Client("http://127.0.0.1:8000") as client:
    ...     run = client.runs.run("demo", "Hello")
"""

from agentrun.client._client import AsyncClient, Client
from agentrun.client._errors import (
    AgentrunError,
    APIConnectionError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from agentrun.client._models import (
    TERMINAL_EVENT_TYPES,
    TERMINAL_STATUSES,
    Agent,
    AgentDefinition,
    Event,
    EventsPage,
    Page,
    Revision,
    Run,
    RunConfig,
    RunError,
    Thread,
    ThreadDetail,
    ThreadMessage,
    Usage,
)
from agentrun.client._streaming import AsyncEventStream, AsyncRunStream, EventStream, RunStream
from agentrun.client._text import join_deltas, superseded_from

__all__ = [
    "TERMINAL_EVENT_TYPES",
    "TERMINAL_STATUSES",
    "APIConnectionError",
    "Agent",
    "AgentDefinition",
    "AgentrunError",
    "AsyncClient",
    "AsyncEventStream",
    "AsyncRunStream",
    "AuthenticationError",
    "Client",
    "ConflictError",
    "Event",
    "EventStream",
    "EventsPage",
    "NotFoundError",
    "Page",
    "PayloadTooLargeError",
    "RateLimitError",
    "Revision",
    "Run",
    "RunConfig",
    "RunError",
    "RunStream",
    "ServerError",
    "Thread",
    "ThreadDetail",
    "ThreadMessage",
    "Usage",
    "ValidationError",
    "join_deltas",
    "superseded_from",
]

# Public classes report the package as their home, so reprs and docs show `agentrun.client.Run`.
for _name in __all__:
    _member = globals()[_name]
    if isinstance(_member, type):
        _member.__module__ = __name__
del _name, _member
