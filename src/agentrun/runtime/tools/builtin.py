"""Built-in tools: ``http_get``, ``current_time``, ``calculator``, ``ask_human``.

Each is a plain function whose docstring is the description the model sees. ``http_get`` is
built per agent by :func:`make_http_get` because it closes over the tool settings (timeout,
size cap, allow-list).
"""

from __future__ import annotations

import ast
import asyncio
import math
import operator
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import httpx
from pydantic_ai.exceptions import CallDeferred

from agentrun.runtime.tools.ssrf import CheckedURL, pinned_request, resolve_url_async
from agentrun.settings import ToolSettings

MAX_REDIRECTS = 5
_REDIRECTS = {301, 302, 303, 307, 308}
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/xhtml", "application/javascript")
_USER_AGENT = "agentrun-http_get/1"


def current_time() -> str:
    """The current date and time in UTC, as ISO 8601 (e.g. 2025-01-31T12:00:00+00:00)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def ask_human(question: str, answer_schema: dict[str, Any] | None = None) -> str:
    """Ask a person a question and wait for the answer; the run pauses until someone answers.

    Use it when you lack a fact or a decision only a person can give. The answer comes back as
    this tool's result.

    Args:
        question: The question, self-contained (the person may not have read the conversation).
        answer_schema: Optional JSON Schema the answer must match, e.g. {"type": "boolean"} or an
            object with named fields; omit it for a free-text answer.
    """
    # Never runs to completion: the run waits in requires_action (docs/runs.md) and the answer
    # is given to the model as this call's result when the run resumes.
    raise CallDeferred({"question": question, "answer_schema": answer_schema}, kind="question")


def calculator(expression: str) -> int | float:
    """Evaluate an arithmetic expression and return the number.

    Supports + - * / // % ** and parentheses, numbers, the constants pi and e, and the functions
    sqrt, abs, round, floor, ceil, log, log10, exp, sin, cos, tan, min, max.

    Args:
        expression: The expression, e.g. "(2 + 3) * sqrt(16) / 4".
    """
    if len(expression) > 1000:
        raise ValueError("expression is longer than 1000 characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"not an arithmetic expression: {exc.msg}") from None
    return _evaluate(tree.body)


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": math.sqrt,
    "abs": abs,
    "round": round,
    "floor": math.floor,
    "ceil": math.ceil,
    "log": math.log,
    "log10": math.log10,
    "exp": math.exp,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "min": min,
    "max": max,
}
_CONSTANTS = {"pi": math.pi, "e": math.e}
_MAX_RESULT_BITS = 4096


def _evaluate(node: ast.expr) -> int | float:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow):
            _check_power(left, right)
        return _checked_size(_BINARY[type(node.op)](left, right))
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
    ):
        return _checked_size(_FUNCTIONS[node.func.id](*(_evaluate(arg) for arg in node.args)))
    raise ValueError(f"unsupported element in expression: {ast.unparse(node)!r}")


def _check_power(base: int | float, exponent: int | float) -> None:
    # 9 ** 9 ** 9 would take minutes and gigabytes: bound the size of the result before computing.
    if abs(base) > 1 and abs(exponent) * math.log2(abs(base)) > _MAX_RESULT_BITS:
        raise ValueError("result too large")


def _checked_size(value: Any) -> int | float:
    if isinstance(value, int) and value.bit_length() > _MAX_RESULT_BITS:
        raise ValueError("result too large")
    if not isinstance(value, int | float):
        raise ValueError("expression did not produce a number")
    return value


def make_http_get(settings: ToolSettings) -> Callable[[str], Any]:
    """Build the ``http_get`` tool bound to ``settings``."""
    allow_hosts = tuple(settings.http_allow_hosts)

    async def http_get(url: str) -> str:
        """Fetch a web page or API URL with HTTP GET and return the status and the body as text.

        Only public http(s) addresses can be reached; long bodies are truncated.

        Args:
            url: The absolute http:// or https:// URL to fetch.
        """
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            async with asyncio.timeout(settings.http_timeout_s):
                checked = await resolve_url_async(current, allow_hosts)
                status, location, text = await _fetch(checked, settings)
            if location is None:
                return text
            current = urljoin(current, location)
        raise ValueError(f"more than {MAX_REDIRECTS} redirects, last to {current!r}")

    return http_get


async def _fetch(checked: CheckedURL, settings: ToolSettings) -> tuple[int, str | None, str]:
    """GET a checked URL, connecting to its checked address; (status, redirect location, text)."""
    url, headers, extensions = pinned_request(checked, _USER_AGENT)
    headers["Accept-Encoding"] = "identity"
    timeout = httpx.Timeout(settings.http_timeout_s)
    # trust_env=False: a proxy from the environment would bypass the address check.
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        request = client.build_request("GET", url, headers=headers, extensions=extensions)
        response = await client.send(request, stream=True)
        try:
            location = response.headers.get("location")
            if response.status_code in _REDIRECTS and location:
                return response.status_code, location, ""
            body, truncated = await _read_capped(response, settings.http_max_bytes)
        finally:
            await response.aclose()
    return response.status_code, None, _render(response, body, truncated, settings.http_max_bytes)


async def _read_capped(response: httpx.Response, max_bytes: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            return b"".join(chunks)[:max_bytes], True
    return b"".join(chunks), False


def _render(response: httpx.Response, body: bytes, truncated: bool, max_bytes: int) -> str:
    content_type = response.headers.get("content-type", "")
    head = (
        f"HTTP {response.status_code} {response.reason_phrase}\ncontent-type: {content_type or 'unknown'}\n\n"
    )
    if content_type and not content_type.lower().startswith(_TEXT_TYPES):
        return head + f"[{len(body)}{'+' if truncated else ''} bytes of {content_type} not shown: not text]"
    text = body.decode(response.encoding or "utf-8", errors="replace")
    if truncated:
        text += f"\n\n[truncated: only the first {max_bytes} bytes are shown]"
    return head + text


def builtin_functions(settings: ToolSettings) -> dict[str, Callable[..., Any]]:
    """The built-in tools by name."""
    return {
        "http_get": make_http_get(settings),
        "current_time": current_time,
        "calculator": calculator,
        "ask_human": ask_human,
    }


BUILTIN_NAMES = ("http_get", "current_time", "calculator", "ask_human")
