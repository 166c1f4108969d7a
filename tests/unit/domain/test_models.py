"""Request models: what a client may send, and the messages it gets when it sends something else."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agentrun.domain.models import (
    AgentCreate,
    AgentUpdate,
    ChatMessage,
    RunConfig,
    RunCreate,
    ThreadCreate,
    ToolSpec,
)


def error_text(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return str(exc.value)


@pytest.mark.parametrize(
    "inputs",
    [
        {"prompt": "p"},
        {"input": {"a": 1}},
        {"messages": [{"role": "user", "content": "hi"}]},
        {"prompt": ""},
        {"input": {}},
    ],
)
def test_run_create_accepts_exactly_one_input_form(inputs: dict) -> None:
    run = RunCreate(agent="a", **inputs)
    assert run.mode == "sync" and run.multitask == "enqueue"


@pytest.mark.parametrize(
    ("inputs", "named"),
    [
        ({}, "got none"),
        ({"prompt": "p", "input": {}}, "['prompt', 'input']"),
        ({"prompt": "p", "messages": [{"role": "user", "content": "x"}]}, "['prompt', 'messages']"),
        ({"prompt": "p", "input": {}, "messages": [{"role": "user", "content": "x"}]}, "'messages']"),
    ],
)
def test_run_create_refuses_zero_or_several_input_forms(inputs: dict, named: str) -> None:
    with pytest.raises(ValidationError) as info:
        RunCreate(agent="a", **inputs)
    assert "give exactly one of prompt, input, messages" in error_text(info)
    assert named in error_text(info)


def test_run_create_refuses_empty_messages_and_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="messages must not be empty"):
        RunCreate(agent="a", messages=[])
    with pytest.raises(ValidationError, match="extra_forbidden|Extra inputs"):
        RunCreate.model_validate({"agent": "a", "prompt": "p", "promt": "typo"})
    with pytest.raises(ValidationError):
        RunCreate(agent="a", prompt="p", revision=0)
    with pytest.raises(ValidationError):
        ChatMessage(role="tool", content="x")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "config",
    [
        {"max_turns": 0},
        {"max_turns": 1001},
        {"max_tokens": 0},
        {"temperature": 2.5},
        {"timeout_s": 0},
        {"x": 1},
    ],
)
def test_run_config_bounds(config: dict) -> None:
    with pytest.raises(ValidationError):
        RunConfig.model_validate(config)


def test_run_config_over_takes_unset_fields_from_the_base() -> None:
    base = RunConfig(max_turns=5, timeout_s=30, temperature=0.2)
    merged = RunConfig(max_turns=9).over(base)
    assert merged == RunConfig(max_turns=9, timeout_s=30, temperature=0.2)
    assert RunConfig().over(base) == base
    assert RunConfig(temperature=0).over(base).temperature == 0, "an explicit zero is set, not unset"
    own = RunConfig(max_tokens=7)
    assert own.over(None) is own


@pytest.mark.parametrize("slug", ["a", "demo", "my-agent-2", "0abc", "a" * 63])
def test_valid_slugs(slug: str) -> None:
    assert AgentCreate(slug=slug).slug == slug


@pytest.mark.parametrize("slug", ["", "-lead", "Upper", "has space", "under_score", "a" * 64, "dots.no"])
def test_invalid_slugs_say_what_a_slug_is(slug: str) -> None:
    with pytest.raises(ValidationError) as info:
        AgentCreate(slug=slug)
    assert "slug must be 1-63 lowercase letters, digits or dashes" in error_text(info)


@pytest.mark.parametrize("model", ["test", "test:sleep-10", "openai:gpt-4o", "ollama:llama3"])
def test_model_strings_accepted(model: str) -> None:
    assert AgentCreate(slug="a", model=model).model == model


@pytest.mark.parametrize("model", ["gpt-4o", "", "openai"])
def test_model_strings_refused_with_the_expected_form(model: str) -> None:
    with pytest.raises(ValidationError) as info:
        AgentCreate(slug="a", model=model)
    assert "'provider:model'" in error_text(info)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kind": "builtin"}, "a builtin tool needs `name`"),
        ({"kind": "python"}, "a python tool needs `name` (a registered tool) or `ref`"),
        ({"kind": "python", "ref": "no_colon"}, "`ref` must look like 'package.module:function'"),
        ({"kind": "mcp"}, "an mcp tool needs exactly one of `server`"),
        ({"kind": "mcp", "server": "a", "url": "http://x/mcp"}, "got ['server', 'url']"),
    ],
)
def test_tool_specs_need_their_kind_fields(spec: dict, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        ToolSpec.model_validate(spec)
    assert message in error_text(info)


def test_valid_tool_specs() -> None:
    assert ToolSpec(kind="builtin", name="calculator").name == "calculator"
    assert ToolSpec(kind="python", ref="pkg.mod:fn").ref == "pkg.mod:fn"
    assert ToolSpec(kind="mcp", url="http://127.0.0.1:9/mcp").url
    assert ToolSpec(kind="python", name="lookup").unregistered is False
    assert ToolSpec(kind="python", ref="os:system").unregistered is True
    assert ToolSpec(kind="mcp", server="fetch").unregistered is False
    assert ToolSpec(kind="mcp", command="sh").unregistered is True
    assert ToolSpec(kind="mcp", command="server", args=["--x"]).args == ["--x"]
    with pytest.raises(ValidationError):
        ToolSpec.model_validate({"kind": "shell", "name": "x"})


def test_agent_update_defaults_do_not_publish_and_refuse_unknown_fields() -> None:
    update = AgentUpdate(name="n")
    assert update.publish is False
    assert update.model_dump(exclude_unset=True) == {"name": "n"}
    with pytest.raises(ValidationError):
        AgentUpdate.model_validate({"slug": "new-slug"})


def test_agent_create_publishes_by_default_and_thread_create_refuses_unknown_fields() -> None:
    assert AgentCreate(slug="a").publish is True
    with pytest.raises(ValidationError):
        ThreadCreate.model_validate({"titel": "x"})
