"""Check every JSON response a test client receives against the app's own /openapi.json.

Installed as an httpx response hook: a 2xx without a documented JSON schema, or a body the
documented schema refuses, fails the test that made the request. The published document is what
clients generate code from, so it is held to what the server really sends.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any

import httpx
import jsonschema


@dataclass
class _Operation:
    method: str
    pattern: re.Pattern[str]
    template: str
    responses: dict[str, Any]


def document_of(app: Any) -> dict[str, Any]:
    """The app's OpenAPI document. FastAPI's generation warnings (a duplicate operation id, say)
    are for ``scripts/openapi.py --check`` to refuse; here they must not fail unrelated tests."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return app.openapi()


class OpenAPIResponseCheck:
    def __init__(self, document: dict[str, Any]) -> None:
        self._components = document.get("components", {})
        self._operations: list[_Operation] = []
        for template, item in document["paths"].items():
            regex = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            for method, operation in item.items():
                self._operations.append(
                    _Operation(method.upper(), re.compile(regex), template, operation.get("responses", {}))
                )
        # Literal templates first: /v1/runs/stream must not match /v1/runs/{run_id}.
        self._operations.sort(key=lambda op: op.template.count("{"))
        self.checked = 0

    def _operation(self, method: str, path: str) -> _Operation | None:
        for op in self._operations:
            if op.method == method and op.pattern.match(path):
                return op
        return None

    async def __call__(self, response: httpx.Response) -> None:
        request = response.request
        op = self._operation(request.method, request.url.path)
        content_type = response.headers.get("content-type", "")
        if op is None or not content_type.startswith("application/json"):
            return  # not an API operation (the console, /mcp), or a stream
        documented = op.responses.get(str(response.status_code))
        schema = ((documented or {}).get("content") or {}).get("application/json", {}).get("schema")
        where = f"{request.method} {op.template} -> {response.status_code}"
        if schema is None:
            if 200 <= response.status_code < 300:
                raise AssertionError(f"{where}: no JSON schema documented for this status")
            return
        await response.aread()
        validator = jsonschema.Draft202012Validator({**schema, "components": self._components})
        errors = sorted(validator.iter_errors(response.json()), key=lambda e: list(e.absolute_path))
        if errors:
            first = errors[0]
            at = "/".join(str(p) for p in first.absolute_path) or "(body)"
            raise AssertionError(f"{where}: the body breaks the documented schema at {at}: {first.message}")
        self.checked += 1
