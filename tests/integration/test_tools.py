"""Tools end to end: http_get against a local server, python refs, MCP over stdio, tool errors,
and the hook the engine uses to make function-tool calls durable."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic_ai import Agent, models
from pydantic_ai.mcp import MCPToolset
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.toolsets import PrefixedToolset
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from agentrun.domain.models import ToolSpec
from agentrun.runtime.providers import resolve_model
from agentrun.runtime.tools import InterceptedToolset, build_toolsets, wrap_function_toolsets
from agentrun.runtime.tools.builtin import make_http_get
from agentrun.runtime.tools.ssrf import UnsafeURLError
from agentrun.settings import ProviderSettings, ToolSettings
from tests.support import sample_tools
from tests.support.fake_openai import ThreadedServer


@pytest.fixture(autouse=True)
def _no_real_models(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "ALLOW_MODEL_REQUESTS", False)


class LocalSite:
    def __init__(self) -> None:
        self.hits: list[tuple[str, str]] = []  # (path, Host header)
        self.server = ThreadedServer(
            Starlette(
                routes=[
                    Route("/hello", self.hello),
                    Route("/big", self.big),
                    Route("/image", self.image),
                    Route("/to-hello", self.redirect("/hello")),
                    Route("/to-metadata", self.redirect("http://169.254.169.254/latest/meta-data/")),
                    Route("/to-private", self.redirect("http://10.0.0.1/")),
                    Route("/loop", self.redirect("/loop")),
                ]
            )
        )

    @property
    def url(self) -> str:
        return self.server.url

    def record(self, request: Request) -> None:
        self.hits.append((request.url.path, request.headers.get("host", "")))

    async def hello(self, request: Request) -> Response:
        self.record(request)
        return PlainTextResponse("hello from the local site")

    async def big(self, request: Request) -> Response:
        self.record(request)
        return PlainTextResponse("x" * 5000)

    async def image(self, request: Request) -> Response:
        self.record(request)
        return Response(b"\x89PNG" + b"\0" * 100, media_type="image/png")

    def redirect(self, to: str) -> Any:
        async def endpoint(request: Request) -> Response:
            self.record(request)
            return RedirectResponse(to, status_code=302)

        return endpoint


@pytest.fixture(scope="module")
def site() -> Iterator[LocalSite]:
    local = LocalSite()
    local.server.start()
    yield local
    local.server.stop()


def http_get(**settings: Any) -> Any:
    return make_http_get(ToolSettings(**settings))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/hello",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/hello",
        "http://localhost:{port}/hello",
    ],
)
async def test_http_get_refuses_internal_addresses(site: LocalSite, url: str) -> None:
    before = len(site.hits)
    with pytest.raises(UnsafeURLError):
        await http_get()(url.format(port=site.server.port))
    assert len(site.hits) == before  # refused before any connection


async def test_http_get_reaches_an_allow_listed_local_server_with_the_original_host(site: LocalSite) -> None:
    text = await http_get(http_allow_hosts=["127.0.0.1"])(f"{site.url}/hello")
    assert text.startswith("HTTP 200 OK")
    assert "hello from the local site" in text
    assert site.hits[-1] == ("/hello", f"127.0.0.1:{site.server.port}")


async def test_http_get_allow_listed_by_name_sends_that_host(site: LocalSite) -> None:
    text = await http_get(http_allow_hosts=["localhost"])(f"http://localhost:{site.server.port}/hello")
    assert "hello from the local site" in text
    assert site.hits[-1] == ("/hello", f"localhost:{site.server.port}")


async def test_http_get_follows_a_redirect(site: LocalSite) -> None:
    before = len(site.hits)
    text = await http_get(http_allow_hosts=["127.0.0.1"])(f"{site.url}/to-hello")
    assert "hello from the local site" in text
    assert [path for path, _ in site.hits[before:]] == ["/to-hello", "/hello"]


@pytest.mark.parametrize("path", ["/to-metadata", "/to-private"])
async def test_http_get_refuses_a_redirect_to_an_internal_address(site: LocalSite, path: str) -> None:
    with pytest.raises(UnsafeURLError) as info:
        await http_get(http_allow_hosts=["127.0.0.1"])(f"{site.url}{path}")
    assert "169.254.169.254" in str(info.value) or "10.0.0.1" in str(info.value)


async def test_http_get_stops_after_five_redirects(site: LocalSite) -> None:
    before = len(site.hits)
    with pytest.raises(ValueError, match="more than 5 redirects"):
        await http_get(http_allow_hosts=["127.0.0.1"])(f"{site.url}/loop")
    assert len(site.hits) - before == 6


async def test_http_get_truncates_large_bodies_with_a_note(site: LocalSite) -> None:
    text = await http_get(http_allow_hosts=["127.0.0.1"], http_max_bytes=1000)(f"{site.url}/big")
    assert "x" * 1000 in text and "x" * 1001 not in text
    assert "[truncated: only the first 1000 bytes are shown]" in text


async def test_http_get_does_not_dump_binary_bodies(site: LocalSite) -> None:
    text = await http_get(http_allow_hosts=["127.0.0.1"])(f"{site.url}/image")
    assert "image/png not shown" in text and "PNG" not in text


def script(*steps: Any) -> FunctionModel:
    """A FunctionModel that answers with the given steps in order (after each tool round trip)."""

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        turn = sum(isinstance(m, ModelResponse) for m in messages)
        step = steps[min(turn, len(steps) - 1)]
        return step(messages, info) if callable(step) else step

    return FunctionModel(respond)


def tool_returns(messages: list[ModelMessage]) -> dict[str, ToolReturnPart]:
    return {
        p.tool_name: p
        for m in messages
        if isinstance(m, ModelRequest)
        for p in m.parts
        if isinstance(p, ToolReturnPart)
    }


async def test_a_refused_http_get_reaches_the_model_as_a_failed_tool_result() -> None:
    seen: dict[str, ToolReturnPart] = {}

    def finish(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        seen.update(tool_returns(messages))
        return ModelResponse(parts=[TextPart("done")])

    model = script(
        ModelResponse(parts=[ToolCallPart("http_get", {"url": "http://169.254.169.254/"})]), finish
    )
    toolsets = build_toolsets([ToolSpec(kind="builtin", name="http_get")], ToolSettings())
    result = await Agent(model, toolsets=toolsets).run("fetch metadata")
    assert result.output == "done"
    part = seen["http_get"]
    assert part.outcome == "failed"
    assert "UnsafeURLError" in str(part.content) and "cloud metadata" in str(part.content)


async def test_python_tool_runs_and_its_exception_is_a_tool_error_not_a_crash() -> None:
    sample_tools.CALLS.clear()
    seen: dict[str, ToolReturnPart] = {}

    def finish(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        seen.update(tool_returns(messages))
        return ModelResponse(parts=[TextPart("finished")])

    calls = ModelResponse(
        parts=[
            ToolCallPart("double", {"x": 21}, tool_call_id="c1"),
            ToolCallPart("explode", {"reason": "testing"}, tool_call_id="c2"),
        ]
    )
    specs = [
        ToolSpec(kind="python", ref="tests.support.sample_tools:double"),
        ToolSpec(kind="python", ref="tests.support.sample_tools:explode"),
    ]
    result = await Agent(script(calls, finish), toolsets=build_toolsets(specs, ToolSettings())).run("go")
    assert result.output == "finished"
    assert sorted(sample_tools.CALLS) == [("double", 21), ("explode", "testing")]
    assert seen["double"].content == 42 and seen["double"].outcome == "success"
    assert seen["explode"].outcome == "failed"
    assert seen["explode"].content == "explode failed: RuntimeError: exploded: testing"


async def test_python_tool_name_and_prefix_from_the_spec() -> None:
    sample_tools.CALLS.clear()
    names: list[str] = []

    def first(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        names.extend(t.name for t in info.function_tools)
        return ModelResponse(parts=[ToolCallPart("math_twice", {"x": 4})])

    specs = [ToolSpec(kind="python", ref="tests.support.sample_tools:double", name="twice", prefix="math")]
    agent = Agent(
        script(first, ModelResponse(parts=[TextPart("ok")])), toolsets=build_toolsets(specs, ToolSettings())
    )
    await agent.run("go")
    assert names == ["math_twice"]
    assert sample_tools.CALLS == [("double", 4)]


def mcp_spec(**extra: Any) -> ToolSpec:
    return ToolSpec(
        kind="mcp",
        command=sys.executable,
        args=["-m", "tests.support.mcp_server"],
        env={"MCP_SUFFIX": "!"},
        **extra,
    )


@pytest.mark.slow
async def test_mcp_stdio_tools_are_listed_and_called() -> None:
    listed: list[str] = []
    seen: dict[str, ToolReturnPart] = {}

    def first(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        listed.extend(t.name for t in info.function_tools)
        return ModelResponse(
            parts=[
                ToolCallPart("m_add", {"a": 2, "b": 3}, tool_call_id="a"),
                ToolCallPart("m_shout", {"text": "hi"}, tool_call_id="s"),
                ToolCallPart("m_fail", {"reason": "nope"}, tool_call_id="f"),
            ]
        )

    def finish(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        seen.update(tool_returns(messages))
        return ModelResponse(parts=[TextPart("done")])

    toolsets = build_toolsets([mcp_spec(prefix="m")], ToolSettings(mcp_timeout_s=60))
    result = await Agent(script(first, finish), toolsets=toolsets).run("use mcp")
    assert result.output == "done"
    assert sorted(listed) == ["m_add", "m_fail", "m_shout"]
    assert seen["m_add"].content == 5
    assert seen["m_shout"].content == "HI!"  # the spec's env reached the subprocess
    assert seen["m_fail"].outcome == "failed"
    assert "failed on purpose: nope" in str(seen["m_fail"].content)


async def test_wrapper_sees_every_function_tool_call_and_can_replay_a_recorded_result() -> None:
    sample_tools.CALLS.clear()
    recorded = {"double": 1000}  # as if a durable step had already finished before a crash
    wrapped: list[str] = []

    async def as_step(name: str, call: Any) -> Any:
        wrapped.append(name)
        if name in recorded:
            return recorded[name]
        return await call()

    seen: dict[str, ToolReturnPart] = {}

    def finish(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        seen.update(tool_returns(messages))
        return ModelResponse(parts=[TextPart("ok")])

    specs = [
        ToolSpec(kind="python", ref="tests.support.sample_tools:double"),
        ToolSpec(kind="python", ref="tests.support.sample_tools:explode", prefix="p"),
        ToolSpec(kind="builtin", name="calculator"),
    ]
    calls = ModelResponse(
        parts=[
            ToolCallPart("double", {"x": 1}, tool_call_id="1"),
            ToolCallPart("p_explode", {"reason": "r"}, tool_call_id="2"),
            ToolCallPart("calculator", {"expression": "6*7"}, tool_call_id="3"),
        ]
    )
    toolsets = wrap_function_toolsets(build_toolsets(specs, ToolSettings()), as_step)
    await Agent(script(calls, finish), toolsets=toolsets).run("go")
    assert sorted(wrapped) == ["calculator", "double", "explode"]
    assert sample_tools.CALLS == [("explode", "r")]  # double was replayed, not re-run
    assert seen["double"].content == 1000
    assert seen["calculator"].content == 42
    assert seen["p_explode"].outcome == "failed"  # the error was translated inside the step


async def test_wrapping_leaves_mcp_toolsets_alone() -> None:
    toolsets = build_toolsets(
        [mcp_spec(prefix="m"), ToolSpec(kind="builtin", name="current_time")], ToolSettings()
    )
    wrapped = wrap_function_toolsets(toolsets, lambda name, call: call())
    assert isinstance(wrapped[0], PrefixedToolset)
    assert isinstance(wrapped[0].wrapped.wrapped, MCPToolset)  # inside the error sanitizer, not intercepted
    assert isinstance(wrapped[1], InterceptedToolset)


async def test_offline_tools_model_drives_builtin_tools() -> None:
    toolsets = build_toolsets([ToolSpec(kind="builtin", name="current_time")], ToolSettings())
    agent = Agent(resolve_model("test:tools", ProviderSettings()).model, toolsets=toolsets)
    result = await agent.run("what time is it")
    assert "current_time -> 20" in result.output  # an ISO timestamp from this century
    assert result.usage.tool_calls == 1
