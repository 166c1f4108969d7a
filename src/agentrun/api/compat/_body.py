"""The compat routers' route class: a request body is read as JSON whatever its declared type.

The vendor documents show ``curl -d '{...}'`` with no ``Content-Type``, so curl declares
``application/x-www-form-urlencoded``; other clients send ``text/plain`` or nothing. Every compat
body is JSON, so the compat routes parse it as JSON regardless (a body that is not JSON is still a
422 ``validation_error`` naming the problem). Native routes keep FastAPI's strict handling.
"""

from __future__ import annotations

import email.message
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response


def _declares_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


class JSONBodyRoute(APIRoute):
    """An APIRoute whose body is JSON whatever ``Content-Type`` says (see the module doc)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def route(request: Request) -> Response:
            if not _declares_json(request.headers.get("content-type")):
                scope = dict(request.scope)
                scope["headers"] = [
                    (k, v) for k, v in request.scope["headers"] if k.lower() != b"content-type"
                ] + [(b"content-type", b"application/json")]
                request = Request(scope, request.receive)
            return await handler(request)

        return route
