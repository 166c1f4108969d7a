"""The FastAPI app factory: wires services, middleware, error handlers and routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute

from agentrun import __version__
from agentrun.api import compat, protocols
from agentrun.api.console import mount_console
from agentrun.api.docs import mount_docs, publish_page_limit
from agentrun.api.errors import install_error_handlers
from agentrun.api.guards import HostGuard, StrictJsonBody
from agentrun.api.limits import BodySizeLimit
from agentrun.api.observability import RequestId
from agentrun.api.routes import agents, health, keys, runs, sandboxes, threads, webhooks
from agentrun.mcp.http import mount_mcp
from agentrun.services.container import open_services
from agentrun.settings import Settings


def _operation_id(route: APIRoute) -> str:
    return route.name


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await open_services(settings)
        app.state.services = services
        try:
            yield
        finally:
            await services.close()

    app = FastAPI(
        title="agentrun",
        version=__version__,
        description="Run AI agents through an API: durable runs, events, threads. Native API under /v1.",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        docs_url=None,  # served by mount_docs from the package's own assets, no CDN
        redoc_url=None,
    )
    # Middleware: the last added runs first. StrictJsonBody buffers bodies BodySizeLimit counted.
    app.add_middleware(StrictJsonBody)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.limits.max_body_bytes,
        # Files and archives for a sandbox are bigger than any JSON body.
        larger={"/v1/sandboxes/": settings.sandbox.max_upload_bytes},
    )
    app.add_middleware(HostGuard, settings=settings)
    app.add_middleware(RequestId)  # outermost: every answer, even a 400/413, carries the id
    install_error_handlers(app)
    for module in (health, agents, runs, threads, sandboxes, keys, webhooks):
        app.include_router(module.router)
    for router in [*compat.routers, *protocols.routers]:
        app.include_router(router)
    # MCP (streamable HTTP) at /mcp, same API keys; chains its session manager into the lifespan.
    mount_mcp(app, settings)
    mount_console(app)
    mount_docs(app)
    publish_page_limit(app, settings.limits.max_page_size)
    return app
