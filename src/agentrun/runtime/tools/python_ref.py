"""Python entry-point tools: ``ToolSpec(kind="python", ref="package.module:function")``.

The module is imported when the agent's toolsets are built (not when agentrun starts), so a
missing module or attribute is reported then, naming the ref. The function's signature and
docstring become the tool's schema and description, exactly as for any pydantic-ai function
tool; a first parameter annotated ``RunContext`` receives the run context.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from agentrun.domain.errors import AgentrunError, ErrorCode


def load_python_tool(ref: str) -> Callable[..., Any]:
    """Import ``package.module:function`` (``function`` may be dotted: ``module:Class.method``).

    Raises:
        AgentrunError: ``validation_error`` naming the ref when the module or attribute is missing,
            fails to import, or is not callable.
    """
    module_name, sep, attribute = ref.partition(":")
    if not sep or not module_name or not attribute:
        raise _invalid(ref, "it must look like 'package.module:function'")
    try:
        target: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise _invalid(ref, f"module {exc.name or module_name!r} was not found") from None
    except Exception as exc:
        raise _invalid(ref, f"importing {module_name!r} failed: {type(exc).__name__}: {exc}") from None
    for name in attribute.split("."):
        try:
            target = getattr(target, name)
        except AttributeError:
            raise _invalid(ref, f"{module_name!r} has no attribute {attribute!r}") from None
    if not callable(target):
        raise _invalid(ref, f"{attribute!r} is a {type(target).__name__}, not a function")
    return target


def _invalid(ref: str, why: str) -> AgentrunError:
    return AgentrunError(
        ErrorCode.validation_error, f"python tool {ref!r} cannot be loaded: {why}.", {"ref": ref}
    )
