"""/v1/webhooks: project webhook endpoints, the project signing secret, and delivery logs."""

from __future__ import annotations

from fastapi import APIRouter, Response

from agentrun.api.deps import CursorDep, LimitDep, ProjectDep, ServicesDep
from agentrun.domain.models import Page
from agentrun.services.webhooks import (
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookSecret,
    WebhookService,
)

router = APIRouter(tags=["webhooks"])


def _webhooks(services: ServicesDep) -> WebhookService:
    assert services.webhooks is not None
    return services.webhooks


@router.post("/v1/webhooks", status_code=201, operation_id="create_webhook")
async def create_webhook(
    body: WebhookEndpointCreate, services: ServicesDep, project: ProjectDep
) -> WebhookEndpointCreated:
    """Subscribe a URL to the project's run events; the answer carries its signing secret, once."""
    return await _webhooks(services).create_endpoint(project, body)


@router.get("/v1/webhooks", operation_id="list_webhooks")
async def list_webhooks(
    services: ServicesDep, project: ProjectDep, limit: LimitDep, cursor: CursorDep = None
) -> Page[WebhookEndpoint]:
    return await _webhooks(services).list_endpoints(project, cursor, limit)


# Declared before /{webhook_id} so "secret" is not taken for an endpoint id.
@router.get("/v1/webhooks/secret", operation_id="get_webhook_secret")
async def get_webhook_secret(services: ServicesDep, project: ProjectDep) -> WebhookSecret:
    """The secret that signs deliveries to runs' own `webhook_url` (created on first use)."""
    return await _webhooks(services).project_secret(project)


@router.get("/v1/webhooks/{webhook_id}", operation_id="get_webhook")
async def get_webhook(webhook_id: str, services: ServicesDep, project: ProjectDep) -> WebhookEndpoint:
    return await _webhooks(services).get_endpoint(project, webhook_id)


@router.delete("/v1/webhooks/{webhook_id}", status_code=204, operation_id="delete_webhook")
async def delete_webhook(webhook_id: str, services: ServicesDep, project: ProjectDep) -> Response:
    await _webhooks(services).delete_endpoint(project, webhook_id)
    return Response(status_code=204)


@router.get("/v1/webhooks/{webhook_id}/deliveries", operation_id="list_webhook_deliveries")
async def list_webhook_deliveries(
    webhook_id: str, services: ServicesDep, project: ProjectDep, limit: LimitDep, cursor: CursorDep = None
) -> Page[WebhookDelivery]:
    """Deliveries to this endpoint, newest first, each with every attempt."""
    return await _webhooks(services).endpoint_deliveries(project, webhook_id, cursor, limit)


@router.get("/v1/runs/{run_id}/deliveries", operation_id="list_run_deliveries")
async def list_run_deliveries(
    run_id: str, services: ServicesDep, project: ProjectDep, limit: LimitDep, cursor: CursorDep = None
) -> Page[WebhookDelivery]:
    """Webhook deliveries of a run (its own webhook_url and project endpoints), with attempts."""
    return await _webhooks(services).run_deliveries(project, run_id, cursor, limit)
