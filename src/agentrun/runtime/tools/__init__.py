"""Tools for agents: build pydantic-ai toolsets from an agent's ``ToolSpec`` list.

``build_toolsets(specs, settings)`` returns one toolset per source:

- ``builtin`` specs (``http_get``, ``current_time``, ``calculator``; see :mod:`.builtin`) are
  gathered into one function toolset per prefix;
- each ``python`` spec (``ref="package.module:function"``, see :mod:`.python_ref`) is a
  function toolset with that one function, named ``spec.name`` when given;
- each ``mcp`` spec is an ``MCPToolset`` (see :mod:`.mcp`).

Building validates the specs (unknown built-in, unloadable python ref, duplicate tool names ->
``AgentrunError(validation_error)``) but does not connect to MCP servers, so it can also be
used to validate a definition when an agent is created.

Tool errors. Any exception a built-in or python tool raises reaches the model as a *failed tool
result* (pydantic-ai ``ToolFailed``: "<tool> failed: <Type>: <message>") and the run goes on;
the model decides what to do next. We chose ``ToolFailed`` over ``ModelRetry`` because a retry
consumes the tool's retry budget and, once it is spent, fails the whole run. A python tool
that wants the model to correct its arguments may still raise ``ModelRetry`` itself
(pydantic-ai's semantics then apply). MCP tool errors are ``ToolFailed`` too.

Durable tool calls (the hook for the engine). Function tools are not made durable by
pydantic-ai's DBOS integration; MCP toolsets are (it wraps them itself, using their ``id``). To
run every function-tool call as a durable step, wrap the toolsets before giving them to the
Agent::

    async def as_step(name: str, call: Callable[[], Awaitable[Any]]) -> Any:
        return await DBOS.run_step_async({"name": f"tool.{name}"}, call)

    toolsets = wrap_function_toolsets(build_toolsets(specs, settings.tools), as_step)

``wrapper(name, call)`` is awaited for each call of a function tool; ``name`` is the tool's own
name (a spec's ``prefix`` is not included); ``call()`` runs the tool and either returns its result
or raises ``ToolFailed`` (already translated, so a step records a plain, picklable outcome) or
a pydantic-ai control-flow exception (``ModelRetry``, ...). The wrapper must await ``call()``
at most once per invocation and return its result; on recovery it may return the recorded
result without calling it. MCP toolsets are left unwrapped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic_ai import RunContext
from pydantic_ai.exceptions import (
    AgentRunError,
    ApprovalRequired,
    CallDeferred,
    ModelRetry,
    SkipToolExecution,
    SkipToolValidation,
    ToolFailed,
    ToolFailedError,
    ToolRetryError,
    UserError,
)
from pydantic_ai.toolsets import AbstractToolset, FunctionToolset, ToolsetTool, WrapperToolset
from pydantic_ai.toolsets.approval_required import ApprovalRequiredToolset

from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.domain.models import ToolSpec
from agentrun.runtime.tools.builtin import BUILTIN_NAMES, builtin_functions
from agentrun.runtime.tools.python_ref import load_python_tool
from agentrun.runtime.tools.registry import ToolRegistry, check_tools
from agentrun.runtime.tools.ssrf import UnsafeURLError, check_url, check_url_async
from agentrun.settings import ToolSettings

__all__ = [
    "BUILTIN_NAMES",
    "InterceptedToolset",
    "SafeFunctionToolset",
    "ToolCallWrapper",
    "ToolRegistry",
    "check_tools",
    "UnsafeURLError",
    "build_toolsets",
    "check_url",
    "check_url_async",
    "defers",
    "sandbox_toolset",
    "wrap_function_toolsets",
]

ToolCallWrapper = Callable[[str, Callable[[], Awaitable[Any]]], Awaitable[Any]]

# pydantic-ai's own signals pass through untouched; everything else becomes a failed tool result.
_PASS_THROUGH: tuple[type[BaseException], ...] = (
    ModelRetry,
    ToolFailed,
    CallDeferred,
    ApprovalRequired,
    SkipToolValidation,
    SkipToolExecution,
    ToolRetryError,
    ToolFailedError,
    AgentRunError,
    UserError,
)
_MAX_ERROR_CHARS = 2000


class SafeFunctionToolset(FunctionToolset[Any]):
    """A function toolset whose tools' exceptions reach the model as ``ToolFailed``."""

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[Any], tool: ToolsetTool[Any]
    ) -> Any:
        try:
            return await super().call_tool(name, tool_args, ctx, tool)
        except _PASS_THROUGH:
            raise
        except Exception as exc:
            message = f"{name} failed: {type(exc).__name__}: {exc}"
            raise ToolFailed(message[:_MAX_ERROR_CHARS]) from exc


def sandbox_toolset(requires_approval: bool | list[str] = False) -> AbstractToolset[Any]:
    """The shell and file tools of a run's sandbox (see :mod:`.sandbox`)."""
    from agentrun.runtime.tools.sandbox import SANDBOX_FUNCTIONS

    toolset = SafeFunctionToolset(id="sandbox")
    for name, function in SANDBOX_FUNCTIONS.items():
        toolset.add_function(function, name=name)
    return _with_approval(toolset, _approval_rule(requires_approval, None))


def _approval_rule(requires: bool | list[str], prefix: str | None) -> Callable[[str], bool] | None:
    """Which tool names (as the model sees them) need a person's approval; None: none do."""
    if requires is True:
        return lambda _name: True
    if not requires:
        return None
    names = set(requires)
    if prefix:
        names |= {f"{prefix}_{n}" for n in requires}
    return lambda name: name in names


def _with_approval(toolset: AbstractToolset[Any], rule: Callable[[str], bool] | None) -> AbstractToolset[Any]:
    """``toolset`` whose calls matching ``rule`` stop the run for a person's approval first."""
    if rule is None:
        return toolset
    return ApprovalRequiredToolset(
        toolset, approval_required_func=lambda _ctx, tool_def, _args: rule(tool_def.name)
    )


def defers(specs: Sequence[ToolSpec], sandbox_requires_approval: bool | list[str] = False) -> bool:
    """Whether a run with these tools may stop for a person (an approval, or ``ask_human``)."""
    return bool(sandbox_requires_approval) or any(
        spec.requires_approval or (spec.kind == "builtin" and spec.name == "ask_human") for spec in specs
    )


def build_toolsets(
    specs: Sequence[ToolSpec], settings: ToolSettings, registry: ToolRegistry | None = None
) -> list[AbstractToolset[Any]]:
    """One toolset per tool source of ``specs``; raises ``AgentrunError`` for an invalid spec.

    Trust is not checked here (see :func:`check_tools`): callers check before they build.
    """
    registry = registry if registry is not None else ToolRegistry.from_settings(settings)
    toolsets: list[AbstractToolset[Any]] = []
    builtins = builtin_functions(settings)
    by_prefix: dict[str | None, SafeFunctionToolset] = {}
    approve_builtins: dict[str | None, set[str]] = {}  # prefix -> builtin names needing approval
    exposed: dict[str, str] = {}

    def claim(name: str, prefix: str | None, source: str) -> None:
        full = f"{prefix}_{name}" if prefix else name
        if full in exposed:
            raise _invalid(
                f"two tools are named {full!r} ({exposed[full]} and {source}); set a prefix on one"
            )
        exposed[full] = source

    for spec in specs:
        if spec.kind == "builtin":
            name = spec.name or ""
            if name not in builtins:
                raise _invalid(f"unknown builtin tool {name!r}; builtin tools: {', '.join(BUILTIN_NAMES)}")
            toolset = by_prefix.get(spec.prefix)
            if toolset is None:
                toolset = by_prefix[spec.prefix] = SafeFunctionToolset(id=_builtin_id(spec.prefix))
                toolsets.append(toolset.prefixed(spec.prefix) if spec.prefix else toolset)
            if spec.requires_approval:
                approve_builtins.setdefault(spec.prefix, set()).add(name)
            if name in toolset.tools:
                continue  # the same builtin listed twice: harmless
            claim(name, spec.prefix, f"builtin {name}")
            toolset.add_function(builtins[name], name=name)
        elif spec.kind == "python":
            ref = spec.ref or registry.python.get(spec.name or "")
            if ref is None:
                raise _invalid(f"no Python tool named {spec.name!r} is registered on this server")
            function = load_python_tool(ref)
            name = spec.name or getattr(function, "__name__", "tool")
            claim(name, spec.prefix, f"python {ref}")
            toolset = SafeFunctionToolset(
                id=f"python-{spec.prefix}_{name}" if spec.prefix else f"python-{name}"
            )
            toolset.add_function(function, name=name)
            exposed_set = toolset.prefixed(spec.prefix) if spec.prefix else toolset
            needs = spec.requires_approval
            needs = (
                needs
                if isinstance(needs, bool)
                else name in needs or (spec.prefix or "") + "_" + name in needs
            )
            toolsets.append(_with_approval(exposed_set, _approval_rule(needs, None)))
        else:
            from agentrun.runtime.tools.mcp import mcp_toolset  # imports fastmcp: only when used

            rule = _approval_rule(spec.requires_approval, spec.prefix)
            toolsets.append(_with_approval(mcp_toolset(spec, settings, registry), rule))
    return _approve_builtins(toolsets, by_prefix, approve_builtins)


def _approve_builtins(
    toolsets: list[AbstractToolset[Any]],
    by_prefix: dict[str | None, SafeFunctionToolset],
    approve: dict[str | None, set[str]],
) -> list[AbstractToolset[Any]]:
    """Builtins of one prefix share a toolset: wrap it with a rule naming those that need approval."""
    for index, toolset in enumerate(toolsets):
        for prefix, names in approve.items():
            if toolset is by_prefix[prefix] or getattr(toolset, "wrapped", None) is by_prefix[prefix]:
                toolsets[index] = _with_approval(toolset, _approval_rule(sorted(names), prefix))
    return toolsets


@dataclass
class InterceptedToolset(WrapperToolset[Any]):
    """Hands every tool call of the wrapped toolset to ``wrapper(name, call)``."""

    wrapper: ToolCallWrapper

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[Any], tool: ToolsetTool[Any]
    ) -> Any:
        async def call() -> Any:
            return await self.wrapped.call_tool(name, tool_args, ctx, tool)

        return await self.wrapper(name, call)


def wrap_function_toolsets(
    toolsets: Sequence[AbstractToolset[Any]], wrapper: ToolCallWrapper
) -> list[AbstractToolset[Any]]:
    """Route every call of every function tool in ``toolsets`` through ``wrapper``.

    Function toolsets and sandboxed MCP servers are found inside prefixes and other wrappers;
    pydantic-ai's MCP toolsets are left as they are (its DBOS integration makes their calls
    steps). See the module docstring for the contract of ``wrapper``.
    """
    from agentrun.runtime.tools.sandbox_mcp import SandboxedMCPToolset

    def intercept(toolset: AbstractToolset[Any]) -> AbstractToolset[Any]:
        # Sandboxed MCP servers are ours, not pydantic-ai's MCPToolset: their calls need a step too.
        if isinstance(toolset, FunctionToolset | SandboxedMCPToolset):
            return InterceptedToolset(toolset, wrapper)
        return toolset

    return [toolset.visit_and_replace(intercept) for toolset in toolsets]


def _builtin_id(prefix: str | None) -> str:
    return f"builtin-{prefix}" if prefix else "builtin"


def _invalid(message: str) -> AgentrunError:
    return AgentrunError(ErrorCode.validation_error, message)
