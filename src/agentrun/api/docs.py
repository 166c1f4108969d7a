"""The API docs pages (``/docs`` Swagger UI, ``/redoc`` ReDoc) with their assets served by this
server, so they work offline and an operator's browser fetches nothing from a third party.

FastAPI's defaults load Swagger UI and ReDoc from a CDN. The assets come from the
``fastapi-offline`` package (MIT; it vendors swagger-ui-dist 5.x, which renders OpenAPI 3.1 as
FastAPI emits it, and redoc 2.x) and are served from its package directory under
``/docs/static``.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request

STATIC_URL = "/docs/static"


def _assets() -> Path:
    return Path(str(files("fastapi_offline") / "static"))


def mount_docs(app: FastAPI) -> None:
    """Serve ``/docs`` and ``/redoc`` on ``app`` (created with ``docs_url=None, redoc_url=None``)."""
    assert app.openapi_url is not None
    openapi_url = app.openapi_url
    app.mount(STATIC_URL, StaticFiles(directory=_assets()), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_URL}/favicon.png",
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{STATIC_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{STATIC_URL}/favicon.png",
            with_google_fonts=False,
        )


def publish_page_limit(app: FastAPI, max_page_size: int) -> None:
    """State in the document the ``limit`` maximum this server enforces on its paged lists.

    The maximum is a setting (``limits.max_page_size``), not a constant the route's annotation
    could carry, so it is written into each ``limit`` query parameter once the document is built.
    A parameter with its own maximum (the Agent Protocol's) keeps it.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        document = build()
        if fresh:
            for item in document.get("paths", {}).values():
                for operation in item.values():
                    for parameter in operation.get("parameters", []):
                        if parameter.get("name") != "limit" or parameter.get("in") != "query":
                            continue
                        schema = parameter.get("schema", {})
                        for branch in schema.get("anyOf", [schema]):
                            if branch.get("type") == "integer" and "maximum" not in branch:
                                branch["maximum"] = max_page_size
        return document

    app.openapi = openapi  # type: ignore[method-assign]
