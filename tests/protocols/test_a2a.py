"""A2A: the unchanged official ``a2a-sdk`` client against a real agentrun server process.

One server per backend (SQLite, PostgreSQL) for the module, keys required: an admin key (project
``default``), a key of project ``acme`` (the caller) and one of project ``rival`` (a foreigner).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from a2a.client import A2ACardResolver, Client, ClientCallContext, ClientConfig, ClientFactory
from a2a.client.auth import AuthInterceptor, CredentialService
from a2a.client.errors import AgentCardResolutionError
from a2a.types.a2a_pb2 import (
    CancelTaskRequest,
    GetTaskPushNotificationConfigRequest,
    GetTaskRequest,
    Message,
    Part,
    Role,
    SendMessageConfiguration,
    SendMessageRequest,
    StreamResponse,
    SubscribeToTaskRequest,
    Task,
    TaskPushNotificationConfig,
    TaskState,
)
from a2a.utils.errors import (
    InvalidParamsError,
    TaskNotCancelableError,
    TaskNotFoundError,
    UnsupportedOperationError,
)
from google.protobuf import json_format, struct_pb2

from tests.support.fake_openai import FakeOpenAI
from tests.support.keyed import keyed_server
from tests.support.live import LiveServer
from tests.support.webhook_receiver import Receiver, documented_verify

pytestmark = pytest.mark.slow

OFFLINE = "[offline test model]"


@dataclass
class Live:
    server: LiveServer
    admin: str
    acme: str
    rival: str
    model: FakeOpenAI  # an OpenAI-compatible server recording what the model was sent

    @property
    def url(self) -> str:
        return self.server.url

    def native(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": key}, timeout=30)

    def agent(self, key: str, model: str = "test", **extra: object) -> str:
        slug = f"a2a-{uuid.uuid4().hex[:8]}"
        with self.native(key) as http:
            created = http.post("/v1/agents", json={"slug": slug, "model": model, **extra})
            assert created.status_code == 201, created.text
        return slug


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp(f"a2a-{request.param}")
    with keyed_server(
        request.param, tmp, "a2a", extra_env={"AGENTRUN_WEBHOOKS__ALLOW_HOSTS": '["127.0.0.1"]'}
    ) as k:
        yield Live(k.server, k.admin, k.keys["acme"], k.keys["rival"], k.model)


class Keys(CredentialService):
    """Hands the card's `apiKey` scheme our key (the SDK's AuthInterceptor puts it in X-API-Key)."""

    def __init__(self, key: str) -> None:
        self.key = key

    async def get_credentials(
        self, security_scheme_name: str, context: ClientCallContext | None
    ) -> str | None:
        return self.key if security_scheme_name == "apiKey" else None


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=60) as client:
        yield client


async def card_of(live: Live, http: httpx.AsyncClient, slug: str, key: str):  # type: ignore[no-untyped-def]
    resolver = A2ACardResolver(http, f"{live.url}/a2a/{slug}")
    return await resolver.get_agent_card(http_kwargs={"headers": {"X-API-Key": key}})


async def client_for(
    live: Live, http: httpx.AsyncClient, slug: str, key: str, *, streaming: bool = False
) -> Client:
    card = await card_of(live, http, slug, key)
    factory = ClientFactory(ClientConfig(streaming=streaming, httpx_client=http))
    return factory.create(card, interceptors=[AuthInterceptor(Keys(key))])


def message(text: str, context_id: str | None = None) -> Message:
    msg = Message(message_id=uuid.uuid4().hex, role=Role.ROLE_USER, parts=[Part(text=text)])
    if context_id:
        msg.context_id = context_id
    return msg


async def send(client: Client, msg: Message, **config: object) -> list[StreamResponse]:
    request = SendMessageRequest(message=msg)
    if config:
        request.configuration.CopyFrom(SendMessageConfiguration(**config))
    return [item async for item in client.send_message(request)]


async def one_task(client: Client, msg: Message, **config: object) -> Task:
    items = await send(client, msg, **config)
    assert len(items) == 1 and items[0].HasField("task"), items
    return items[0].task


def text_of(task: Task) -> str:
    return "".join(p.text for a in task.artifacts for p in a.parts)


# --- card ----------------------------------------------------------------------------------------


async def test_the_card_describes_the_agent_and_points_at_its_endpoint(live: Live, http) -> None:  # type: ignore[no-untyped-def]
    slug = live.agent(
        live.acme,
        name="Summarizer",
        description="Summarizes a text.",
        input_schema={"type": "object", "properties": {"text": {"type": "string"}}},
    )
    card = await card_of(live, http, slug, live.acme)
    assert card.name == "Summarizer" and card.description == "Summarizes a text."
    interfaces = [(i.url, i.protocol_binding, i.protocol_version) for i in card.supported_interfaces]
    endpoint = f"{live.url}/a2a/{slug}"
    assert interfaces == [(endpoint, "JSONRPC", "1.0"), (endpoint, "JSONRPC", "0.3")]
    assert card.capabilities.streaming and card.capabilities.push_notifications
    [skill] = card.skills
    assert skill.id == slug and "text" in skill.description and "application/json" in skill.input_modes
    assert card.security_schemes["apiKey"].api_key_security_scheme.name == "X-API-Key"
    assert card.security_schemes["bearer"].http_auth_security_scheme.scheme == "bearer"

    # The server's well-known path is the default agent's (`demo`, project default).
    root = await A2ACardResolver(http, live.url).get_agent_card(
        http_kwargs={"headers": {"Authorization": f"Bearer {live.admin}"}}
    )
    assert root.name and root.supported_interfaces[0].url == f"{live.url}/a2a/demo"

    # Keys as everywhere: none is 401, another project's key does not see the agent.
    with pytest.raises(AgentCardResolutionError) as anonymous:
        await A2ACardResolver(http, f"{live.url}/a2a/{slug}").get_agent_card()
    assert anonymous.value.status_code == 401
    with pytest.raises(AgentCardResolutionError) as foreign:
        await card_of(live, http, slug, live.rival)
    assert foreign.value.status_code == 404


# --- send, get, errors ---------------------------------------------------------------------------


async def test_blocking_send_is_a_sync_run_and_get_reads_it(live: Live, http) -> None:  # type: ignore[no-untyped-def]
    slug = live.agent(live.acme)
    client = await client_for(live, http, slug, live.acme)
    task = await one_task(client, message("What is 6 * 7?"))
    assert task.status.state == TaskState.TASK_STATE_COMPLETED
    assert text_of(task).startswith(OFFLINE) and "6 * 7" in text_of(task)
    assert task.context_id.startswith("thr_")
    assert [m.role for m in task.history] == [Role.ROLE_USER, Role.ROLE_AGENT]

    with live.native(live.acme) as native:
        run = native.get(f"/v1/runs/{task.id}").json()
    assert run["status"] == "completed" and run["thread_id"] == task.context_id
    assert run["result"] == text_of(task)

    got = await client.get_task(GetTaskRequest(id=task.id))
    assert got.id == task.id and got.status.state == TaskState.TASK_STATE_COMPLETED
    assert text_of(got) == text_of(task)
    assert len((await client.get_task(GetTaskRequest(id=task.id, history_length=1))).history) == 1


async def test_unknown_foreign_and_other_agents_tasks_are_task_not_found(live: Live, http) -> None:  # type: ignore[no-untyped-def]
    slug = live.agent(live.acme)
    client = await client_for(live, http, slug, live.acme)
    with pytest.raises(TaskNotFoundError):
        await client.get_task(GetTaskRequest(id="run_does_not_exist"))
    task = await one_task(client, message("hello"))

    # Another project's key, at an agent of its own with the same slug: not its task.
    live.agent(live.rival)  # the rival project has agents too
    rival_slug = live.agent(live.rival)
    rival = await client_for(live, http, rival_slug, live.rival)
    with pytest.raises(TaskNotFoundError):
        await rival.get_task(GetTaskRequest(id=task.id))
    with pytest.raises(TaskNotFoundError):
        await rival.cancel_task(CancelTaskRequest(id=task.id))
    # The same project, another agent's endpoint: not that agent's task.
    other = await client_for(live, http, live.agent(live.acme), live.acme)
    with pytest.raises(TaskNotFoundError):
        await other.get_task(GetTaskRequest(id=task.id))
    # A message naming a finished task cannot continue it (contextId does that).
    follow_up = message("more")
    follow_up.task_id = task.id
    with pytest.raises(UnsupportedOperationError):
        await send(client, follow_up)


async def test_bad_requests_are_jsonrpc_errors_never_500(live: Live, http) -> None:  # type: ignore[no-untyped-def]
    slug = live.agent(live.acme)
    endpoint = f"{live.url}/a2a/{slug}"
    headers = {"X-API-Key": live.acme, "A2A-Version": "1.0"}

    async def rpc(body: object) -> dict:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        answer = await http.post(
            endpoint, content=raw, headers={**headers, "content-type": "application/json"}
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    assert (await rpc(b"{not json"))["error"]["code"] == -32700
    assert (await rpc({"jsonrpc": "2.0", "id": 1, "method": "Nope"}))["error"]["code"] == -32601
    assert (await rpc([{"jsonrpc": "2.0", "id": 1, "method": "GetTask"}]))["error"]["code"] == -32600
    missing = await rpc({"jsonrpc": "2.0", "id": 2, "method": "SendMessage", "params": {"message": {}}})
    assert missing["id"] == 2 and missing["error"]["code"] == -32602
    files = {"messageId": "m1", "role": "ROLE_USER", "parts": [{"url": "https://example.com/x.pdf"}]}
    assert (await rpc({"jsonrpc": "2.0", "id": 3, "method": "SendMessage", "params": {"message": files}}))[
        "error"
    ]["code"] == -32005
    unknown_agent = await http.post(
        f"{live.url}/a2a/no-such-agent",
        json={"jsonrpc": "2.0", "id": 4, "method": "GetTask", "params": {"id": "run_x"}},
        headers=headers,
    )
    # An agent the project does not have: the endpoint does not exist for it (as its card).
    assert unknown_agent.status_code == 404
    assert unknown_agent.json()["error"]["code"] == "agent_not_found"
    old = await http.post(
        endpoint,
        json={"jsonrpc": "2.0", "id": 5, "method": "GetTask", "params": {"id": "run_x"}},
        headers={**headers, "A2A-Version": "0.3"},
    )
    assert old.json()["error"]["code"] == -32009


async def test_a_data_part_is_the_runs_input_and_a_json_result_a_data_part(live: Live, http) -> None:  # type: ignore[no-untyped-def]
    schema = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
    out = {"type": "object", "properties": {"summary": {"type": "string"}}, "required": ["summary"]}
    slug = live.agent(live.acme, input_schema=schema, output_schema=out)
    client = await client_for(live, http, slug, live.acme)

    def data_message(value: dict) -> Message:
        data = struct_pb2.Value()
        data.struct_value.update(value)
        return Message(message_id=uuid.uuid4().hex, role=Role.ROLE_USER, parts=[Part(data=data)])

    task = await one_task(client, data_message({"text": "a long text"}))
    assert task.status.state == TaskState.TASK_STATE_COMPLETED
    [part] = task.artifacts[0].parts
    assert part.media_type == "application/json"
    assert isinstance(json_format.MessageToDict(part.data)["summary"], str)
    with live.native(live.acme) as native:
        assert native.get(f"/v1/runs/{task.id}").json()["input"] == {"text": "a long text"}
    with pytest.raises(InvalidParamsError):  # not valid for the agent's input schema
        await send(client, data_message({"nope": 1}))


# --- stream, context, cancel, resubscribe, push -----------------------------------------------------


async def test_stream_maps_run_events_to_status_and_artifact_updates(live: Live, http) -> None:  # type: ignore[no-untyped-def]
    slug = live.agent(live.acme)
    client = await client_for(live, http, slug, live.acme, streaming=True)
    items = await send(client, message("stream me please"))
    assert items[0].HasField("task") and items[0].task.status.state == TaskState.TASK_STATE_SUBMITTED
    task_id = items[0].task.id
    kinds = [i.WhichOneof("payload") for i in items]
    assert kinds[0] == "task" and kinds[-1] == "status_update", kinds
    states = [i.status_update.status.state for i in items if i.HasField("status_update")]
    assert states == [TaskState.TASK_STATE_WORKING, TaskState.TASK_STATE_COMPLETED]
    chunks = [i.artifact_update for i in items if i.HasField("artifact_update")]
    assert len(chunks) >= 2 and chunks[-1].last_chunk and not chunks[-1].append
    assert all(c.task_id == task_id and c.artifact.artifact_id == "result" for c in chunks)
    streamed = "".join(p.text for c in chunks[:-1] for p in c.artifact.parts)
    final = "".join(p.text for p in chunks[-1].artifact.parts)
    assert final.startswith(OFFLINE) and streamed == final
    got = await client.get_task(GetTaskRequest(id=task_id))
    assert text_of(got) == final


async def test_a_context_id_continues_the_thread(live: Live, http) -> None:  # type: ignore[no-untyped-def]
    # An OpenAI-compatible fake stands in for the model here, to see what the second run sent it.
    slug = live.agent(live.acme, model="openai:gpt-4o-mini")
    client = await client_for(live, http, slug, live.acme)
    first = await one_task(client, message("my name is Ada"))
    second = await one_task(client, message("what is my name?", context_id=first.context_id))
    assert second.context_id == first.context_id and second.id != first.id
    assert second.status.state == TaskState.TASK_STATE_COMPLETED and text_of(second) == "noted"
    sent = [(m["role"], m["content"]) for m in live.model.requests[-1]["messages"] if m["role"] != "system"]
    assert sent == [("user", "my name is Ada"), ("assistant", "noted"), ("user", "what is my name?")]
    with live.native(live.acme) as native:
        thread = native.get(f"/v1/threads/{first.context_id}").json()
    assert [m["run_id"] for m in thread["messages"]] == [first.id, first.id, second.id, second.id]

    # A caller-chosen contextId starts a new thread of that id; a third message needs no new one.
    mine = f"ctx-{uuid.uuid4().hex[:8]}"
    assert (await one_task(client, message("hi", context_id=mine))).context_id == mine
    # Another agent's context is refused.
    other = await client_for(live, http, live.agent(live.acme), live.acme)
    with pytest.raises(InvalidParamsError):
        await send(other, message("hijack", context_id=mine))


async def test_non_blocking_send_then_cancel(live: Live, http) -> None:  # type: ignore[no-untyped-def]
    slug = live.agent(live.acme, model="test:sleep-20000")
    client = await client_for(live, http, slug, live.acme)
    task = await one_task(client, message("take your time"), return_immediately=True)
    assert task.status.state in (TaskState.TASK_STATE_SUBMITTED, TaskState.TASK_STATE_WORKING)
    cancelled = await client.cancel_task(CancelTaskRequest(id=task.id))
    # The server waits up to CANCEL_WAIT_S for the run to stop; on a loaded machine the answer may
    # still be the working task (cancel is asynchronous here): then it must end canceled soon after.
    assert cancelled.status.state in (TaskState.TASK_STATE_CANCELED, TaskState.TASK_STATE_WORKING)
    for _ in range(100):
        if cancelled.status.state == TaskState.TASK_STATE_CANCELED:
            break
        await asyncio.sleep(0.1)
        cancelled = await client.get_task(GetTaskRequest(id=task.id))
    assert cancelled.status.state == TaskState.TASK_STATE_CANCELED
    with pytest.raises(TaskNotCancelableError):
        await client.cancel_task(CancelTaskRequest(id=task.id))
    with live.native(live.acme) as native:
        assert native.get(f"/v1/runs/{task.id}").json()["status"] == "cancelled"


async def test_resubscribe_follows_a_running_task_to_its_end(live: Live, http) -> None:  # type: ignore[no-untyped-def]
    slug = live.agent(live.acme, model="test:sleep-3000")
    client = await client_for(live, http, slug, live.acme, streaming=True)
    poller = await client_for(live, http, slug, live.acme)
    task = await one_task(poller, message("later"), return_immediately=True)
    items = [i async for i in client.subscribe(SubscribeToTaskRequest(id=task.id))]
    assert items[0].HasField("task") and items[0].task.id == task.id
    assert items[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED
    finals = [
        i.artifact_update for i in items if i.HasField("artifact_update") and i.artifact_update.last_chunk
    ]
    assert "".join(p.text for p in finals[0].artifact.parts).startswith(OFFLINE)
    # A finished task has nothing more to stream.
    with pytest.raises(UnsupportedOperationError):
        _ = [i async for i in client.subscribe(SubscribeToTaskRequest(id=task.id))]
    with pytest.raises(TaskNotFoundError):
        _ = [i async for i in client.subscribe(SubscribeToTaskRequest(id="run_nope"))]


async def test_push_notification_config_is_the_runs_signed_webhook(live: Live, http) -> None:  # type: ignore[no-untyped-def]
    slug = live.agent(live.acme)
    client = await client_for(live, http, slug, live.acme)
    with Receiver() as receiver:
        push = TaskPushNotificationConfig(url=receiver.url)
        task = await one_task(
            client, message("call me back"), return_immediately=True, task_push_notification_config=push
        )
        config = await client.get_task_push_notification_config(
            GetTaskPushNotificationConfigRequest(task_id=task.id, id=task.id)
        )
        assert config.url == receiver.url and config.task_id == task.id
        [delivery] = receiver.wait_for(1)
    with live.native(live.acme) as native:
        secret = native.get("/v1/webhooks/secret").json()["secret"]
    body = documented_verify()(secret, delivery.headers, delivery.body)
    assert body["type"] == "run.completed" and body["data"]["id"] == task.id
    # Tokens are not how agentrun signs: refused, not silently ignored.
    with pytest.raises(InvalidParamsError):
        await send(
            client,
            message("x"),
            task_push_notification_config=TaskPushNotificationConfig(url=receiver.url, token="t"),
        )
    # Without a config at send time there is none, and one cannot be added afterwards.
    plain = await one_task(client, message("no hook"))
    with pytest.raises(TaskNotFoundError):
        await client.get_task_push_notification_config(GetTaskPushNotificationConfigRequest(task_id=plain.id))
    with pytest.raises(UnsupportedOperationError):
        await client.create_task_push_notification_config(
            TaskPushNotificationConfig(task_id=plain.id, url=receiver.url)
        )


async def test_the_same_endpoint_speaks_a2a_0_3_to_the_sdks_compat_transport(live: Live, http) -> None:  # type: ignore[no-untyped-def]
    slug = live.agent(live.acme)
    card = await card_of(live, http, slug, live.acme)
    del card.supported_interfaces[0]  # leave the 0.3 interface: the factory picks the 0.3 transport
    config = ClientConfig(streaming=False, httpx_client=http)
    client = ClientFactory(config).create(card, interceptors=[AuthInterceptor(Keys(live.acme))])
    assert type(client._transport).__name__ == "CompatJsonRpcTransport"  # noqa: SLF001 - what is under test

    task = await one_task(client, message("old protocol"))  # message/send
    assert task.status.state == TaskState.TASK_STATE_COMPLETED and text_of(task).startswith(OFFLINE)
    assert (await client.get_task(GetTaskRequest(id=task.id))).id == task.id  # tasks/get
    with pytest.raises(TaskNotFoundError):
        await client.get_task(GetTaskRequest(id="run_nope"))
    second = await one_task(client, message("again", context_id=task.context_id))
    assert second.context_id == task.context_id

    streaming = ClientFactory(ClientConfig(streaming=True, httpx_client=http)).create(
        card, interceptors=[AuthInterceptor(Keys(live.acme))]
    )
    items = await send(streaming, message("stream the old way"))  # message/stream
    assert items[0].HasField("task")
    assert items[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED
    final = [i.artifact_update for i in items if i.HasField("artifact_update")][-1]
    assert final.last_chunk and "".join(p.text for p in final.artifact.parts).startswith(OFFLINE)

    slow = card_of(live, http, live.agent(live.acme, model="test:sleep-20000"), live.acme)
    slow_card = await slow
    del slow_card.supported_interfaces[0]
    slow_client = ClientFactory(config).create(slow_card, interceptors=[AuthInterceptor(Keys(live.acme))])
    running = await one_task(slow_client, message("wait"), return_immediately=True)
    cancelled = await slow_client.cancel_task(CancelTaskRequest(id=running.id))  # tasks/cancel
    assert cancelled.status.state == TaskState.TASK_STATE_CANCELED
    with pytest.raises(TaskNotCancelableError):
        await slow_client.cancel_task(CancelTaskRequest(id=running.id))

    # tasks/resubscribe follows a running task; tasks/pushNotificationConfig/get of a task without one.
    later_card = await card_of(live, http, live.agent(live.acme, model="test:sleep-3000"), live.acme)
    del later_card.supported_interfaces[0]
    later = ClientFactory(ClientConfig(streaming=True, httpx_client=http)).create(
        later_card, interceptors=[AuthInterceptor(Keys(live.acme))]
    )
    pending = await one_task(
        ClientFactory(config).create(later_card, interceptors=[AuthInterceptor(Keys(live.acme))]),
        message("soon"),
        return_immediately=True,
    )
    followed = [i async for i in later.subscribe(SubscribeToTaskRequest(id=pending.id))]
    assert followed[0].task.id == pending.id
    assert followed[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED
    with pytest.raises(TaskNotFoundError):
        await later.get_task_push_notification_config(
            GetTaskPushNotificationConfigRequest(task_id=pending.id)
        )
