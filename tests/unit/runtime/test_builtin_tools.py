"""calculator and current_time, and build_toolsets validation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.domain.models import ToolSpec
from agentrun.runtime.tools import build_toolsets
from agentrun.runtime.tools.builtin import calculator, current_time
from agentrun.settings import ToolSettings


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("-7 % 3", 2),
        ("2 ** 10", 1024),
        ("sqrt(16) + abs(-2)", 6.0),
        ("max(1, 5, 3) - min(4, 2)", 3),
        ("round(pi, 2)", 3.14),
        ("  +3  ", 3),
    ],
)
def test_calculator(expression: str, expected: float) -> None:
    assert calculator(expression) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('true')",
        "().__class__",
        "open('/etc/passwd')",
        "x + 1",
        "'a' * 3",
        "[1, 2]",
        "lambda: 1",
        "1 if 1 else 2",
        "sqrt(x=4)",
        "9 ** 9 ** 9",
        "10 ** 5000",
        "1 +",
        "",
    ],
)
def test_calculator_refuses_anything_but_arithmetic(expression: str) -> None:
    with pytest.raises(ValueError):
        calculator(expression)


def test_calculator_division_by_zero_raises() -> None:
    with pytest.raises(ZeroDivisionError):
        calculator("1 / 0")


def test_current_time_is_utc_iso() -> None:
    parsed = datetime.fromisoformat(current_time())
    assert parsed.tzinfo is not None and parsed.utcoffset() == UTC.utcoffset(None)
    assert abs((datetime.now(UTC) - parsed).total_seconds()) < 3600


def test_unknown_builtin_is_a_validation_error_listing_the_builtins() -> None:
    with pytest.raises(AgentrunError) as info:
        build_toolsets([ToolSpec(kind="builtin", name="shell")], ToolSettings())
    assert info.value.code == ErrorCode.validation_error
    assert "http_get" in info.value.message and "calculator" in info.value.message


def test_duplicate_tool_names_are_refused_unless_prefixed() -> None:
    specs = [
        ToolSpec(kind="builtin", name="calculator"),
        ToolSpec(kind="python", ref="agentrun.runtime.tools.builtin:calculator"),
    ]
    with pytest.raises(AgentrunError) as info:
        build_toolsets(specs, ToolSettings())
    assert "'calculator'" in info.value.message
    specs[1] = ToolSpec(kind="python", ref="agentrun.runtime.tools.builtin:calculator", prefix="py")
    assert len(build_toolsets(specs, ToolSettings())) == 2


def test_same_builtin_twice_is_harmless() -> None:
    specs = [ToolSpec(kind="builtin", name="current_time"), ToolSpec(kind="builtin", name="current_time")]
    assert len(build_toolsets(specs, ToolSettings())) == 1


@pytest.mark.parametrize(
    ("ref", "fragment"),
    [
        ("no_such_module_xyz:run", "module 'no_such_module_xyz' was not found"),
        ("agentrun.runtime.tools.builtin:nope", "has no attribute 'nope'"),
        ("agentrun.runtime.tools.builtin:MAX_REDIRECTS", "not a function"),
    ],
)
def test_unloadable_python_ref_names_the_ref(ref: str, fragment: str) -> None:
    with pytest.raises(AgentrunError) as info:
        build_toolsets([ToolSpec(kind="python", ref=ref)], ToolSettings())
    assert info.value.code == ErrorCode.validation_error
    assert repr(ref) in info.value.message
    assert fragment in info.value.message
