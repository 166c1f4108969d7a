"""/v1/admin/keys: API keys (the key model: docs/configuration.md#auth).

Admin keys mint, list and revoke every project's keys. A project (non-admin) key mints nothing,
lists its own project's keys and revokes its project's non-admin keys, itself included.
"""

from __future__ import annotations

from fastapi import APIRouter

from agentrun.api.deps import PrincipalDep, ServicesDep
from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.domain.models import ApiKey, ApiKeyCreate, ApiKeyCreated

router = APIRouter(prefix="/v1/admin/keys", tags=["admin"])


@router.post("", status_code=201, operation_id="create_key")
async def create_key(body: ApiKeyCreate, services: ServicesDep, principal: PrincipalDep) -> ApiKeyCreated:
    # Only admin keys mint keys: a key minted by a project key would keep working after that
    # key is revoked, so a leaked project key could leave a successor behind.
    if not principal.admin:
        raise AgentrunError(
            ErrorCode.forbidden,
            "Only an admin key may create keys; ask an operator (or use `agentrun keys create`).",
            {"project": body.project},
        )
    return await services.keys.create(body.project, body.name, body.admin)


@router.get("", operation_id="list_keys")
async def list_keys(services: ServicesDep, principal: PrincipalDep) -> list[ApiKey]:
    return await services.keys.list(principal)


@router.delete("/{key_id}", operation_id="revoke_key")
async def revoke_key(key_id: str, services: ServicesDep, principal: PrincipalDep) -> ApiKey:
    return await services.keys.revoke(principal, key_id)
