"""One error body for every failure: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from agentrun.api.limits import BodyTooLarge
from agentrun.domain.errors import AgentrunError, ErrorCode

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: ErrorCode.invalid_request,
    401: ErrorCode.unauthorized,
    404: ErrorCode.not_found,
    405: ErrorCode.invalid_request,
    409: ErrorCode.conflict,
    413: ErrorCode.body_too_large,
    422: ErrorCode.validation_error,
    429: ErrorCode.rate_limited,
}


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


# Documented on every operation (set on the app's router before the routers are included, so
# each route inherits them). Any route may answer these: 401/403 from auth and the Host guard,
# 400 (malformed query, foreign cursor), 404 (an unknown id in the path or body), 409 (state
# conflicts), 413 (body limit), 422 (validation), 429 (concurrency limits), 500.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "Invalid request (e.g. a cursor this server did not issue).",
        401: "Missing or invalid API key.",
        403: "Not allowed for this key, or a foreign Host/Origin.",
        404: "Not found.",
        409: "Conflict with the resource's state.",
        413: "Request body too large.",
        422: "Validation error.",
        429: "Rate or concurrency limit.",
        500: "Internal error.",
    }.items()
}


def error_response(
    code: ErrorCode | str,
    message: str,
    status: int,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": str(code), "message": message, "details": details}},
        status_code=status,
        headers=headers,
    )


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "(body)"


def _validation_message(errors: list[dict[str, Any]]) -> str:
    first = errors[0]
    msg = first.get("msg", "invalid value")
    if first.get("type") == "json_invalid":
        return "The request body is not valid JSON."
    if first.get("type") == "extra_forbidden":
        return f"{_field(tuple(first['loc']))}: unknown field; remove it or check its spelling."
    return f"{_field(tuple(first['loc']))}: {msg}"


def install_error_handlers(app: FastAPI) -> None:
    # Before any router is included: APIRouter.add_api_route merges these into every route.
    app.router.responses = {**ERROR_RESPONSES, **app.router.responses}

    @app.exception_handler(AgentrunError)
    async def _agentrun_error(_: Request, exc: AgentrunError) -> JSONResponse:
        headers = dict(exc.headers)
        if exc.code is ErrorCode.unauthorized:
            headers["WWW-Authenticate"] = "Bearer"
        return JSONResponse(exc.body(), status_code=exc.http_status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        details = [
            {"field": _field(tuple(e.get("loc", ()))), "message": e.get("msg"), "type": e.get("type")}
            for e in errors[:50]
        ]
        return error_response(ErrorCode.validation_error, _validation_message(errors), 422, details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, BodyTooLarge):
            # A body with no Content-Length went over the limit while the route read it: FastAPI
            # turns any error raised while reading into "error parsing the body" (400).
            max_bytes = request.app.state.services.settings.limits.max_body_bytes
            return error_response(
                ErrorCode.body_too_large,
                f"The request body exceeds the limit of {max_bytes} bytes.",
                413,
                {"max_bytes": max_bytes},
            )
        code = _HTTP_CODES.get(exc.status_code, ErrorCode.invalid_request)
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = "No such route; see /docs for the API."
        # 405 keeps Starlette's ``Allow`` header (RFC 9110 requires it).
        return error_response(
            code, message, exc.status_code, headers=dict(exc.headers) if exc.headers else None
        )

    @app.exception_handler(ValidationError)
    async def _model_validation(_: Request, exc: ValidationError) -> JSONResponse:
        # A model built from request input inside a service (e.g. a definition merged from a
        # PATCH) failed: the caller's input is at fault, so it is a 422 like any other.
        return await _validation(_, RequestValidationError(exc.errors()))

    # Last, so it wraps every middleware too.
    app.add_middleware(CatchAll)


class CatchAll:
    """Any unexpected exception -> a proper 500 with the standard error body.

    Not an ``exception_handler(Exception)``: Starlette sends that handler's response and then
    re-raises, so uvicorn drops the connection after it without a ``Connection: close``. Here
    the exception ends with the response; the response says ``Connection: close`` (uvicorn then
    closes the connection cleanly), since a failed request may have left its body half read.
    Once a response has started (a stream failing mid-body) there is nothing to send but the
    end of the connection, and the exception goes on to the server.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            if started:
                raise
            log.exception("unhandled error")
            response = error_response(ErrorCode.internal, "Internal error; it was logged on the server.", 500)
            response.headers["Connection"] = "close"
            await response(scope, receive, send)
