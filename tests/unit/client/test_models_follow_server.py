"""The SDK's models are a hand-kept mirror of the server's public schemas (the SDK imports no
server module): this test fails when the server gains a field the SDK does not have."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from agentrun.client import _models as sdk
from agentrun.domain import models as server

PAIRS = [
    (server.Agent, sdk.Agent),
    (server.AgentDefinition, sdk.AgentDefinition),
    (server.RunConfig, sdk.RunConfig),
    (server.Revision, sdk.Revision),
    (server.Run, sdk.Run),
    (server.Usage, sdk.Usage),
    (server.RunError, sdk.RunError),
    (server.Event, sdk.Event),
    (server.Thread, sdk.Thread),
    (server.ThreadMessage, sdk.ThreadMessage),
    (server.ThreadDetail, sdk.ThreadDetail),
]


@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=[p[0].__name__ for p in PAIRS])
def test_the_sdk_model_has_every_field_the_server_sends(
    ours: type[BaseModel], theirs: type[BaseModel]
) -> None:
    missing = sorted(set(ours.model_fields) - set(theirs.model_fields))
    assert not missing, f"client/_models.py {theirs.__name__} lacks {missing}: add them"


def test_the_sdk_reads_the_fields_it_had_lacked() -> None:
    parsed = sdk.Run.model_validate(
        {"id": "run_1", "status": "running", "executor_id": "vm-1", "attempt": 2, "sandbox_id": "sbx_1"}
    )
    assert (parsed.executor_id, parsed.attempt, parsed.sandbox_id) == ("vm-1", 2, "sbx_1")
    assert sdk.Agent.model_validate({"id": "agt_1", "slug": "a", "max_concurrency": 3}).max_concurrency == 3
