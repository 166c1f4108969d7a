"""/v1/admin/keys: API keys. A project key manages its own project's keys; an admin key, all."""

from __future__ import annotations

from fastapi import APIRouter

from agentrun.api.deps import PrincipalDep, ServicesDep
from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.domain.models import ApiKey, ApiKeyCreate, ApiKeyCreated

router = APIRouter(prefix="/v1/admin/keys", tags=["admin"])


@router.post("", status_code=201, operation_id="create_key")
async def create_key(body: ApiKeyCreate, services: ServicesDep, principal: PrincipalDep) -> ApiKeyCreated:
    if not principal.admin and (body.project != principal.project_id or body.admin):
        raise AgentrunError(
            ErrorCode.forbidden,
            "Only an admin key may create keys for another project or admin keys.",
            {"project": body.project},
        )
    return await services.keys.create(body.project, body.name, body.admin)


@router.get("", operation_id="list_keys")
async def list_keys(services: ServicesDep, principal: PrincipalDep) -> list[ApiKey]:
    return await services.keys.list(principal)


@router.delete("/{key_id}", operation_id="revoke_key")
async def revoke_key(key_id: str, services: ServicesDep, principal: PrincipalDep) -> ApiKey:
    return await services.keys.revoke(principal, key_id)
