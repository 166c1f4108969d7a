"""Human in the loop through HTTP: runs stop in requires_action for an approval or an answer,
hold nothing while they wait, and resume where they stopped once every pending call is answered."""

from __future__ import annotations

import asyncio
import json
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
from tests.support import tools_for_tests

SEND = {"kind": "python", "ref": "tests.support.tools_for_tests:send", "requires_approval": True}
ASK = {"kind": "builtin", "name": "ask_human"}


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"heartbeat_s": 0.2, "dead_after_s": 5.0}  # the caretaker looks at wait deadlines each beat


class Script:
    """A scripted model: the first turn makes ``calls``; then it answers with every tool result."""

    def __init__(self, calls: list[ToolCallPart]) -> None:
        self.calls = calls
        self.turns = 0

    def respond(self, messages: list[ModelMessage]) -> ModelResponse:
        self.turns += 1
        returns = [
            p
            for m in messages
            if isinstance(m, ModelRequest)
            for p in m.parts
            if isinstance(p, ToolReturnPart)
        ]
        if not returns:
            return ModelResponse(parts=list(self.calls))
        return ModelResponse(
            parts=[TextPart(" | ".join(f"{r.tool_name}={r.model_response_str()}" for r in returns))]
        )

    def model(self) -> FunctionModel:
        def function(messages: list[ModelMessage], _info: AgentInfo) -> ModelResponse:
            return self.respond(messages)

        async def stream(messages: list[ModelMessage], _info: AgentInfo):  # type: ignore[no-untyped-def]
            response = self.respond(messages)
            for index, part in enumerate(response.parts):
                if isinstance(part, ToolCallPart):
                    yield {
                        index: DeltaToolCall(
                            name=part.tool_name,
                            json_args=json.dumps(part.args_as_dict()),
                            tool_call_id=part.tool_call_id,
                        )
                    }
                else:
                    assert isinstance(part, TextPart)
                    yield part.content

        return FunctionModel(function, stream_function=stream)


@pytest.fixture
def script(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    holder: dict[str, Script] = {}

    def make(calls: list[ToolCallPart]) -> Script:
        holder["s"] = Script(calls)
        register_test_model("test:hitl", holder["s"].model())
        return holder["s"]

    tools_for_tests.SENT.clear()
    yield make
    unregister_test_model("test:hitl")


async def _agent(api: Any, tools: list[dict[str, Any]], **extra: Any) -> None:
    body = {"slug": "hitl", "model": "test:hitl", "tools": tools, "publish": True, **extra}
    response = await api.client.put("/v1/agents/hitl", json=body)
    assert response.status_code in (200, 201), response.text


async def _start(api: Any, **extra: Any) -> dict[str, Any]:
    response = await api.client.post(
        "/v1/runs", json={"agent": "hitl", "prompt": "go", "mode": "async", **extra}
    )
    assert response.status_code == 202, response.text
    return await _until(api, response.json()["id"], "requires_action")


async def _until(api: Any, run_id: str, *statuses: str) -> dict[str, Any]:
    for _ in range(400):
        run = (await api.client.get(f"/v1/runs/{run_id}")).json()
        if run["status"] in statuses:
            return run
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} never reached {statuses}: {run['status']}")


async def _finished(api: Any, run_id: str) -> dict[str, Any]:
    return await _until(api, run_id, "completed", "failed", "cancelled", "timed_out")


async def _events(api: Any, run_id: str) -> list[dict[str, Any]]:
    return (await api.client.get(f"/v1/runs/{run_id}/events")).json()["data"]


async def _act(api: Any, run_id: str, *actions: dict[str, Any]) -> Any:
    return await api.client.post(f"/v1/runs/{run_id}/actions", json={"actions": list(actions)})


async def test_approve_runs_the_tool_once_and_repeats_no_model_call(api, script) -> None:  # type: ignore[no-untyped-def]
    model = script([ToolCallPart("send", {"to": "ann"}, tool_call_id="c1")])
    await _agent(api, [SEND])
    run = await _start(api)
    assert [(p["id"], p["tool"], p["args"], p["kind"]) for p in run["pending_actions"]] == [
        ("c1", "send", {"to": "ann"}, "approval")
    ]
    assert run["action_deadline"] is not None and run["executor_id"] is None  # nobody holds it
    assert tools_for_tests.SENT == []  # not before a person says yes
    waiting = await _events(api, run["id"])
    assert waiting[-1]["type"] == "run.requires_action"
    assert waiting[-1]["data"]["pending_actions"][0]["id"] == "c1"

    answered = await _act(api, run["id"], {"call_id": "c1", "decision": "approve"})
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] in ("queued", "running", "completed")
    done = await _finished(api, run["id"])
    assert done["status"] == "completed", done
    assert done["result"] == "send=sent to ann"
    assert tools_for_tests.SENT == ["ann"]
    assert model.turns == 2  # the turn that asked is not sent again
    assert done["usage"]["requests"] == 2 and done["resumes"] == 1
    events = await _events(api, run["id"])
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    types = [e["type"] for e in events]
    for kind in ("run.requires_action", "run.action", "run.resumed", "run.completed"):
        assert types.count(kind) == 1, types
    assert types.index("run.requires_action") < types.index("run.action") < types.index("run.resumed")


async def test_deny_tells_the_model_why_and_never_runs_the_tool(api, script) -> None:  # type: ignore[no-untyped-def]
    script([ToolCallPart("send", {"to": "ann"}, tool_call_id="c1")])
    await _agent(api, [SEND])
    run = await _start(api)
    response = await _act(api, run["id"], {"call_id": "c1", "decision": "deny", "reason": "not to ann, ever"})
    assert response.status_code == 200, response.text
    done = await _finished(api, run["id"])
    assert done["status"] == "completed" and done["result"] == "send=not to ann, ever"
    assert tools_for_tests.SENT == []


async def test_approve_with_edited_arguments(api, script) -> None:  # type: ignore[no-untyped-def]
    script([ToolCallPart("send", {"to": "ann"}, tool_call_id="c1")])
    await _agent(api, [SEND])
    run = await _start(api)
    response = await _act(api, run["id"], {"call_id": "c1", "decision": "approve", "args": {"to": "bob"}})
    assert response.status_code == 200, response.text
    done = await _finished(api, run["id"])
    assert done["result"] == "send=sent to bob"
    assert tools_for_tests.SENT == ["bob"]


async def test_answer_a_question_checked_against_its_schema(api, script) -> None:  # type: ignore[no-untyped-def]
    schema = {"type": "object", "properties": {"floor": {"type": "integer"}}, "required": ["floor"]}
    script(
        [ToolCallPart("ask_human", {"question": "Which floor?", "answer_schema": schema}, tool_call_id="q1")]
    )
    await _agent(api, [ASK])
    run = await _start(api)
    (pending,) = run["pending_actions"]
    assert pending["kind"] == "question" and pending["question"] == "Which floor?"
    assert pending["answer_schema"] == schema
    wrong = await _act(api, run["id"], {"call_id": "q1", "decision": "answer", "answer": {"floor": "top"}})
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "action_invalid"
    approve = await _act(api, run["id"], {"call_id": "q1", "decision": "approve"})
    assert approve.status_code == 422 and approve.json()["error"]["code"] == "action_invalid"
    assert (await api.client.get(f"/v1/runs/{run['id']}")).json()["status"] == "requires_action"
    ok = await _act(api, run["id"], {"call_id": "q1", "decision": "answer", "answer": {"floor": 3}})
    assert ok.status_code == 200, ok.text
    done = await _finished(api, run["id"])
    assert done["status"] == "completed"
    assert json.loads(done["result"].removeprefix("ask_human=")) == {"floor": 3}


async def test_two_pending_calls_answered_one_by_one(api, script) -> None:  # type: ignore[no-untyped-def]
    model = script(
        [
            ToolCallPart("send", {"to": "ann"}, tool_call_id="c1"),
            ToolCallPart("send", {"to": "bob"}, tool_call_id="c2"),
        ]
    )
    await _agent(api, [SEND])
    run = await _start(api)
    assert [p["id"] for p in run["pending_actions"]] == ["c1", "c2"]
    first = await _act(api, run["id"], {"call_id": "c1", "decision": "approve"})
    assert first.status_code == 200 and first.json()["status"] == "requires_action"
    assert [p["answer"] is not None for p in first.json()["pending_actions"]] == [True, False]
    seq = first.json()["last_seq"]
    again = await _act(api, run["id"], {"call_id": "c1", "decision": "approve"})  # a retry
    assert again.status_code == 200 and again.json()["last_seq"] == seq  # no second effect
    other = await _act(api, run["id"], {"call_id": "c1", "decision": "deny"})
    assert other.status_code == 409 and other.json()["error"]["code"] == "action_conflict"
    assert tools_for_tests.SENT == []  # nothing runs before every call is answered
    last = await _act(api, run["id"], {"call_id": "c2", "decision": "deny", "reason": "no"})
    assert last.status_code == 200
    done = await _finished(api, run["id"])
    assert done["result"] == "send=sent to ann | send=no"
    assert tools_for_tests.SENT == ["ann"] and model.turns == 2


async def test_two_pending_calls_answered_together(api, script) -> None:  # type: ignore[no-untyped-def]
    script(
        [
            ToolCallPart("send", {"to": "ann"}, tool_call_id="c1"),
            ToolCallPart("ask_human", {"question": "ok?"}, tool_call_id="q1"),
        ]
    )
    await _agent(api, [SEND, ASK])
    run = await _start(api)
    assert {p["id"]: p["kind"] for p in run["pending_actions"]} == {"c1": "approval", "q1": "question"}
    response = await _act(
        api,
        run["id"],
        {"call_id": "c1", "decision": "approve"},
        {"call_id": "q1", "decision": "answer", "answer": "yes"},
    )
    assert response.status_code == 200, response.text
    done = await _finished(api, run["id"])
    assert done["result"] == "send=sent to ann | ask_human=yes"


async def test_wrong_and_late_answers(api, script) -> None:  # type: ignore[no-untyped-def]
    script([ToolCallPart("send", {"to": "ann"}, tool_call_id="c1")])
    await _agent(api, [SEND])
    run = await _start(api)
    unknown = await _act(api, run["id"], {"call_id": "nope", "decision": "approve"})
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "action_invalid"
    twice = await _act(
        api, run["id"], {"call_id": "c1", "decision": "approve"}, {"call_id": "c1", "decision": "deny"}
    )
    assert twice.status_code == 422
    shape = await _act(api, run["id"], {"call_id": "c1", "decision": "approve", "answer": 1})
    assert shape.status_code == 422
    assert (await _act(api, run["id"], {"call_id": "c1", "decision": "approve"})).status_code == 200
    done = await _finished(api, run["id"])
    same = await _act(api, run["id"], {"call_id": "c1", "decision": "approve"})  # a retry after the end
    assert same.status_code == 200 and same.json()["last_seq"] == done["last_seq"]
    late = await _act(api, run["id"], {"call_id": "c1", "decision": "deny"})
    assert late.status_code == 409 and late.json()["error"]["code"] == "run_not_waiting"
    assert tools_for_tests.SENT == ["ann"]


async def test_an_answer_to_a_run_that_never_waited_is_409(api, script) -> None:  # type: ignore[no-untyped-def]
    script([])
    await _agent(api, [])
    run = (await api.client.post("/v1/runs", json={"agent": "hitl", "prompt": "go"})).json()
    response = await _act(api, run["id"], {"call_id": "c1", "decision": "approve"})
    assert response.status_code == 409 and response.json()["error"]["code"] == "run_not_waiting"


async def test_cancel_while_waiting(api, script) -> None:  # type: ignore[no-untyped-def]
    script([ToolCallPart("send", {"to": "ann"}, tool_call_id="c1")])
    await _agent(api, [SEND])
    run = await _start(api)
    cancelled = await api.client.post(f"/v1/runs/{run['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    late = await _act(api, run["id"], {"call_id": "c1", "decision": "approve"})
    assert late.status_code == 409
    assert tools_for_tests.SENT == []


async def test_wait_timeout_fails_the_run(api, script) -> None:  # type: ignore[no-untyped-def]
    script([ToolCallPart("send", {"to": "ann"}, tool_call_id="c1")])
    await _agent(api, [SEND], human={"timeout_s": 1})
    run = await _start(api)
    done = await _finished(api, run["id"])
    assert done["status"] == "timed_out"
    assert done["error"]["code"] == "action_timeout"
    late = await _act(api, run["id"], {"call_id": "c1", "decision": "approve"})
    assert late.status_code == 409
    assert tools_for_tests.SENT == []


async def test_wait_timeout_denies_when_the_agent_says_so(api, script) -> None:  # type: ignore[no-untyped-def]
    script([ToolCallPart("send", {"to": "ann"}, tool_call_id="c1")])
    await _agent(api, [SEND], human={"timeout_s": 1, "on_timeout": "deny"})
    run = await _start(api)
    done = await _finished(api, run["id"])
    assert done["status"] == "completed", done
    assert done["result"].startswith("send=Nobody answered within 1 s")
    assert tools_for_tests.SENT == []


async def test_a_waiting_run_keeps_its_thread_busy(api, script) -> None:  # type: ignore[no-untyped-def]
    script([ToolCallPart("send", {"to": "ann"}, tool_call_id="c1")])
    await _agent(api, [SEND])
    thread = (await api.client.post("/v1/threads", json={"agent": "hitl"})).json()
    run = await _start(api, thread_id=thread["id"])
    refused = await api.client.post(
        "/v1/runs",
        json={
            "agent": "hitl",
            "prompt": "again",
            "thread_id": thread["id"],
            "multitask": "reject",
            "mode": "async",
        },
    )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "thread_busy"
    queued = (
        await api.client.post(
            "/v1/runs", json={"agent": "hitl", "prompt": "next", "thread_id": thread["id"], "mode": "async"}
        )
    ).json()
    await asyncio.sleep(0.5)
    assert (await api.client.get(f"/v1/runs/{queued['id']}")).json()["status"] == "queued"  # waits behind it
    await _act(api, run["id"], {"call_id": "c1", "decision": "approve"})
    assert (await _finished(api, run["id"]))["status"] == "completed"
    # It runs after, with the waiting run's whole history (its turns before and after the wait).
    after = await _finished(api, queued["id"])
    assert after["status"] == "completed" and after["result"] == "send=sent to ann"
    assert tools_for_tests.SENT == ["ann"]


async def test_another_projects_key_gets_404(api, script) -> None:  # type: ignore[no-untyped-def]
    script([ToolCallPart("send", {"to": "ann"}, tool_call_id="c1")])
    await _agent(api, [SEND])
    run = await _start(api)
    intruder = await api.services.keys.create("intruder", "intruder", False)
    response = await api.client.post(
        f"/v1/runs/{run['id']}/actions",
        json={"actions": [{"call_id": "c1", "decision": "approve"}]},
        headers={"Authorization": f"Bearer {intruder.key}"},
    )
    assert response.status_code == 404 and response.json()["error"]["code"] == "run_not_found"
    assert (await api.client.get(f"/v1/runs/{run['id']}")).json()["status"] == "requires_action"


async def test_the_event_stream_stays_open_across_the_wait_and_carries_the_request(api, script) -> None:  # type: ignore[no-untyped-def]
    script([ToolCallPart("send", {"to": "ann"}, tool_call_id="c1")])
    await _agent(api, [SEND])
    run = (await api.client.post("/v1/runs", json={"agent": "hitl", "prompt": "go", "mode": "async"})).json()

    async def answer_when_waiting() -> None:
        await _until(api, run["id"], "requires_action")
        await asyncio.sleep(0.3)  # the stream is attached and idle in the wait
        assert (await _act(api, run["id"], {"call_id": "c1", "decision": "approve"})).status_code == 200

    answering = asyncio.create_task(answer_when_waiting())
    stream = await api.client.get(f"/v1/runs/{run['id']}/events", headers={"Accept": "text/event-stream"})
    await answering
    frames = [json.loads(line[6:]) for line in stream.text.splitlines() if line.startswith("data: ")]
    types = [f["type"] for f in frames]
    assert "run.requires_action" in types and types[-1] == "run.completed"
    waiting = frames[types.index("run.requires_action")]
    assert waiting["data"]["pending_actions"][0]["tool"] == "send"
    assert types.index("run.requires_action") < types.index("run.resumed")
    assert [f["seq"] for f in frames] == list(range(1, len(frames) + 1))


async def test_a_webhook_endpoint_can_subscribe_to_requires_action(api, script) -> None:  # type: ignore[no-untyped-def]
    script([ToolCallPart("send", {"to": "ann"}, tool_call_id="c1")])
    await _agent(api, [SEND])
    subscribed = await api.client.post(
        "/v1/webhooks", json={"url": "http://93.184.216.34/hook", "events": ["run.requires_action"]}
    )
    assert subscribed.status_code == 201, subscribed.text
    default = await api.client.post("/v1/webhooks", json={"url": "http://93.184.216.34/other"})
    assert "run.requires_action" not in default.json()["events"]  # opt-in: not terminal, may repeat
    run = await _start(api)
    deliveries = (await api.client.get(f"/v1/runs/{run['id']}/deliveries")).json()["data"]
    assert [(d["endpoint_id"], d["event_type"]) for d in deliveries] == [
        (subscribed.json()["id"], "run.requires_action")
    ]


async def test_each_compat_surface_names_a_waiting_run_in_its_own_words(api, script) -> None:  # type: ignore[no-untyped-def]
    from agentrun.services.task_shape import task_id_of

    script([ToolCallPart("ask_human", {"question": "Which colour?"}, tool_call_id="q1")])
    await _agent(api, [ASK])
    run = await _start(api)
    agent_id = run["agent_id"]
    assert (await api.client.get(f"/api/runs/{task_id_of(run['id'])}")).json()[
        "status"
    ] == "in_progress"  # 001
    assert (await api.client.get(f"/v0.1/runs/{run['id']}")).json()["status"] == "running"  # 002
    acp = (await api.client.get(f"/v1/servers/{agent_id}/runs/{run['id']}")).json()  # 003
    assert acp["run"]["status"] == "awaiting", acp
    rpc = {"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": run["id"]}}
    task = (await api.client.post("/a2a/hitl", json=rpc, headers={"A2A-Version": "1.0"})).json()["result"]
    assert task["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
    assert "Which colour?" in task["status"]["message"]["parts"][0]["text"]
    legacy = {"jsonrpc": "2.0", "id": 2, "method": "tasks/get", "params": {"id": run["id"]}}
    old = (await api.client.post("/a2a/hitl", json=legacy, headers={"A2A-Version": "0.3"})).json()["result"]
    assert old["status"]["state"] == "input-required"
