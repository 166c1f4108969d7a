"""Build a pydantic-ai Agent from a revision, and the per-run inputs it is called with."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic_ai import (
    Agent,
    DeferredToolRequests,
    DeferredToolResults,
    StructuredDict,
    ToolApproved,
    ToolDenied,
)
from pydantic_ai.messages import (
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelResponse,
    SystemPromptPart,
    TextPart,
    UserPromptPart,
)
from pydantic_ai.models import Model
from pydantic_ai.settings import ModelSettings
from pydantic_ai.usage import UsageLimits

from agentrun.domain import json_schema
from agentrun.domain.errors import AgentrunError
from agentrun.domain.models import AgentDefinition, ChatMessage, PendingAction, RunConfig
from agentrun.runtime.events import RunDeps

__all__ = [
    "RunDeps",
    "build_agent",
    "check_output",
    "output_type_for",
    "RunInputs",
    "run_inputs",
    "limits_for",
    "history_from_json",
    "DeferredToolRequests",
    "pending_actions",
    "deferred_results",
]


def build_agent(
    definition: AgentDefinition,
    model: Model,
    *,
    name: str,
    toolsets: Sequence[Any] = (),
    capabilities: Sequence[Any] = (),
) -> Agent[RunDeps, Any]:
    """One Agent per revision (callers cache it): building registers durable steps by name."""
    agent: Agent[RunDeps, Any] = Agent(
        model,
        name=name,
        deps_type=RunDeps,
        instructions=definition.instructions or None,
        toolsets=list(toolsets),
        capabilities=list(capabilities),
    )

    return agent


def check_output(schema: dict[str, Any] | None, output: Any) -> str | None:
    """Why ``output`` does not match ``schema`` (None when it does). Providers do not all enforce schemas."""
    if schema is None:
        return None
    try:
        errors = json_schema.validate(schema, output, "output_schema")
    except AgentrunError as exc:  # the schema itself is unusable (stored before schemas were checked)
        return exc.message
    if errors:
        return f"result.{errors[0].field or '(root)'}: {errors[0].message}"
    return None


def output_type_for(schema: dict[str, Any] | None) -> Any:
    """Text, or a dict validated against the JSON schema (object schemas only, as providers require)."""
    if schema is None:
        return str
    json_schema.check_schema(schema, "output_schema")  # never hand the provider an unusable schema
    if schema.get("type", "object") != "object":
        # Providers take object schemas for structured output; wrap anything else.
        wrapped = {"type": "object", "properties": {"value": schema}, "required": ["value"]}
        return StructuredDict(wrapped, name="result")
    return StructuredDict(schema, name=schema.get("title") or "result")


def unwrap_output(schema: dict[str, Any] | None, output: Any) -> Any:
    if schema is not None and schema.get("type", "object") != "object" and isinstance(output, dict):
        return output.get("value")
    return output


@dataclass
class RunInputs:
    prompt: str
    history: list[ModelMessage]


def history_from_json(chunks: Sequence[Any]) -> list[ModelMessage]:
    """Earlier runs' messages (stored as JSON) back into pydantic-ai messages, in order."""
    messages: list[ModelMessage] = []
    for chunk in chunks:
        messages.extend(ModelMessagesTypeAdapter.validate_python(chunk))
    return messages


def run_inputs(
    prompt: str | None,
    input: dict[str, Any] | None,
    messages: Sequence[ChatMessage] | None,
    thread_history: list[ModelMessage],
) -> RunInputs:
    """The user prompt and message history for one run, from whichever input form it was given."""
    if prompt is not None:
        return RunInputs(prompt, thread_history)
    if input is not None:
        return RunInputs("Input (JSON):\n" + json.dumps(input, indent=2, sort_keys=True), thread_history)
    assert messages, "RunCreate guarantees one input form"
    history = list(thread_history)
    for msg in messages[:-1]:
        if msg.role == "assistant":
            history.append(ModelResponse(parts=[TextPart(msg.content)]))
        elif msg.role == "system":
            history.append(ModelRequest(parts=[SystemPromptPart(msg.content)]))
        else:
            history.append(ModelRequest(parts=[UserPromptPart(msg.content)]))
    last = messages[-1]
    if last.role != "user":
        history.append(
            ModelResponse(parts=[TextPart(last.content)])
            if last.role == "assistant"
            else ModelRequest(parts=[SystemPromptPart(last.content)])
        )
        return RunInputs("Continue.", history)
    return RunInputs(last.content, history)


def limits_for(config: RunConfig) -> tuple[UsageLimits, ModelSettings]:
    """The run's usage limits and the settings sent with every model request.

    ``max_tokens`` is the per-request output limit the model is given; ``max_total_tokens`` is
    agentrun's budget for the whole run (checked after each request).
    """
    limits = UsageLimits(request_limit=config.max_turns, total_tokens_limit=config.max_total_tokens)
    settings: ModelSettings = {}
    if config.temperature is not None:
        settings["temperature"] = config.temperature
    if config.max_tokens is not None:
        settings["max_tokens"] = config.max_tokens
    return limits, settings


NOBODY_ANSWERED = "No person answered this question."


def pending_actions(requests: DeferredToolRequests) -> list[PendingAction]:
    """The calls a run stopped for, in the order the model made them."""
    pending: list[PendingAction] = []
    for call in [*requests.approvals, *requests.calls]:
        try:
            args = call.args_as_dict()
        except Exception:  # malformed JSON from the model: shown as given
            args = {"_raw": call.args}
        if requests.kind(call.tool_call_id) == "approval":
            pending.append(
                PendingAction(id=call.tool_call_id, tool=call.tool_name, args=args, kind="approval")
            )
            continue
        meta = requests.metadata.get(call.tool_call_id) or {}
        schema = meta.get("answer_schema")
        if schema is not None:
            try:
                json_schema.check_schema(schema, "answer_schema")
            except AgentrunError:
                schema = None  # the model wrote an unusable schema: any answer goes
        pending.append(
            PendingAction(
                id=call.tool_call_id,
                tool=call.tool_name,
                args=args,
                kind="question",
                question=str(meta.get("question") or args.get("question") or ""),
                answer_schema=schema if isinstance(schema, dict) else None,
            )
        )
    return pending


def deferred_results(pending: Sequence[PendingAction]) -> DeferredToolResults:
    """The answers given to a paused run, as pydantic-ai resumes it with them."""
    results = DeferredToolResults()
    for action in pending:
        answer = action.answer
        if answer is None:
            continue
        if action.kind == "approval":
            if answer.decision == "approve":
                results.approvals[action.id] = ToolApproved(override_args=answer.args)
            else:
                results.approvals[action.id] = ToolDenied(answer.reason or "A person denied this call.")
        elif answer.decision == "answer":
            results.calls[action.id] = answer.answer
        else:
            results.calls[action.id] = answer.reason or NOBODY_ANSWERED
    return results
