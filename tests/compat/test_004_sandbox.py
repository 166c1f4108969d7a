"""Seed 004's sandbox-backed run, for real: "Run the tests and summarize failures."

A caller uploads a small Python project with a failing test into a sandbox, then `POST /v1/run`
with a scripted model that calls the shell tool; the answer names the failing test and the
response carries the `sandboxId` with `executionMode: "in_sandbox"`.
"""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

from agentrun.runtime.providers import register_test_model, unregister_test_model
from tests.compat.conftest import create_agent, new_api_key, unique

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

MODEL = "test:run-the-tests"
PROJECT = {
    "calc.py": "def add(a, b):\n    return a - b  # the bug\n\n\ndef sub(a, b):\n    return a - b\n",
    "test_calc.py": (
        "import unittest\n\nfrom calc import add, sub\n\n\n"
        "class CalcTest(unittest.TestCase):\n"
        "    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n\n"
        "    def test_sub(self):\n        self.assertEqual(sub(5, 3), 2)\n"
    ),
}


def _tar_gz(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _respond(messages: list[ModelMessage]) -> ModelResponse:
    """Call the shell once; then summarize what the test runner printed."""
    returns = [
        p for m in messages if isinstance(m, ModelRequest) for p in m.parts if isinstance(p, ToolReturnPart)
    ]
    if not returns:
        return ModelResponse(parts=[ToolCallPart("shell", {"command": "python3 -m unittest -v 2>&1"})])
    output = str(returns[-1].content)
    failing = re.findall(r"^(?:FAIL|ERROR): (\w+)", output, flags=re.MULTILINE)
    return ModelResponse(parts=[TextPart(f"{len(failing)} failing: {', '.join(failing) or 'none'}")])


@pytest.fixture(scope="module", autouse=True)
def scripted_model() -> Any:
    def function(messages: list[ModelMessage], _info: AgentInfo) -> ModelResponse:
        return _respond(messages)

    async def stream(messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[Any]:
        part = _respond(messages).parts[0]
        if isinstance(part, ToolCallPart):
            yield {0: DeltaToolCall(name=part.tool_name, json_args=part.args_as_json_str())}
        else:
            yield part.content

    register_test_model(MODEL, FunctionModel(function, stream_function=stream))
    yield
    unregister_test_model(MODEL)


async def test_run_the_tests_and_summarize_failures(api) -> None:  # type: ignore[no-untyped-def]
    headers = {"X-API-Key": await new_api_key(api.client)}
    agent = (await create_agent(api.client, slug=unique("code-assistant"), model=MODEL, sandbox={}))["slug"]
    sandbox = (await api.client.post("/v1/sandboxes", json={}, headers=headers)).json()
    uploaded = await api.client.post(
        f"/v1/sandboxes/{sandbox['id']}/archive", content=_tar_gz(PROJECT), headers=headers
    )
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["file_count"] == 2

    resp = await api.client.post(
        "/v1/run",
        json={
            "agent": agent,
            "prompt": "Run the tests and summarize failures.",
            "stream": False,
            "sandboxId": sandbox["id"],
        },
        headers=headers,
    )
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["status"] == "completed", data
    assert data["result"] == "1 failing: test_add"
    assert data["sandboxId"] == sandbox["id"]
    assert data["executionMode"] == "in_sandbox"
    assert data["iterations"] == 2

    # The thread keeps its sandbox: the next run of the thread sees the same files.
    follow = await api.client.post(
        "/v1/run",
        json={"agent": agent, "prompt": "Again.", "stream": False, "threadId": data["threadId"]},
        headers=headers,
    )
    assert follow.json()["data"]["sandboxId"] == sandbox["id"], follow.text
    assert follow.json()["data"]["result"] == "1 failing: test_add"


async def test_runs_without_a_sandbox_are_managed(api) -> None:  # type: ignore[no-untyped-def]
    agent = (await create_agent(api.client, slug=unique("plain")))["slug"]
    resp = await api.client.post("/v1/run", json={"agent": agent, "prompt": "hi", "stream": False})
    data = resp.json()["data"]
    assert data["sandboxId"] is None and data["executionMode"] == "managed"


async def test_a_thread_gets_its_own_sandbox_and_keeps_it(api) -> None:  # type: ignore[no-untyped-def]
    agent = (await create_agent(api.client, slug=unique("boxed"), model="test", sandbox={}))["slug"]
    first = await api.client.post("/v1/run", json={"agent": agent, "prompt": "hi", "stream": False})
    data = first.json()["data"]
    assert data["executionMode"] == "in_sandbox" and data["sandboxId"], data
    second = await api.client.post(
        "/v1/run", json={"agent": agent, "prompt": "hi", "stream": False, "threadId": data["threadId"]}
    )
    assert second.json()["data"]["sandboxId"] == data["sandboxId"]
    other = await api.client.post("/v1/run", json={"agent": agent, "prompt": "hi", "stream": False})
    assert other.json()["data"]["sandboxId"] != data["sandboxId"]


async def test_unknown_sandbox_is_404(api) -> None:  # type: ignore[no-untyped-def]
    agent = (await create_agent(api.client, slug=unique("boxed")))["slug"]
    resp = await api.client.post(
        "/v1/run", json={"agent": agent, "prompt": "hi", "stream": False, "sandboxId": "sbx_nope"}
    )
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "sandbox_not_found"
