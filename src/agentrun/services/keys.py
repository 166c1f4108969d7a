"""API keys: create (shown once), authenticate, list, revoke; and who may call without one."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.domain.models import ApiKey, ApiKeyCreated
from agentrun.settings import Settings, is_loopback
from agentrun.store.store import Store

KEY_PREFIX = "ar_"
DEFAULT_PROJECT = "default"


@dataclass(frozen=True)
class Principal:
    project_id: str
    admin: bool
    key_id: str | None  # None: a keyless local caller (embedded mode on loopback)


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyService:
    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._settings = settings

    @property
    def keyless_allowed(self) -> bool:
        """Requests without a key act on the default project: only when auth is off, or in
        ``auto`` mode while the server listens on loopback alone (the laptop case)."""
        mode = self._settings.auth_mode
        return mode == "disabled" or (mode == "auto" and is_loopback(self._settings.host))

    async def create(self, project: str, name: str, admin: bool) -> ApiKeyCreated:
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = await self._store.keys.create(project, name, hash_key(secret), secret[:10], admin)
        return ApiKeyCreated(**key.model_dump(), key=secret)

    async def authenticate(self, secret: str | None) -> Principal:
        if not secret:
            if self.keyless_allowed:
                return Principal(DEFAULT_PROJECT, admin=True, key_id=None)
            raise AgentrunError(
                ErrorCode.unauthorized,
                "An API key is required: send `Authorization: Bearer <key>` or `X-API-Key: <key>`.",
            )
        key = await self._store.keys.by_hash(hash_key(secret))
        if key is None or key.revoked_at is not None:
            raise AgentrunError(ErrorCode.unauthorized, "The API key is not valid (unknown or revoked).")
        return Principal(key.project_id, admin=key.admin, key_id=key.id)

    async def list(self, principal: Principal) -> list[ApiKey]:
        return await self._store.keys.list(None if principal.admin else principal.project_id)

    async def revoke(self, principal: Principal, key_id: str) -> ApiKey:
        """Admin keys revoke any key. A project key revokes its own project's non-admin keys
        (itself included); another project's key does not exist for it (404), and its project's
        admin keys are refused (403): a project key must not lock the operator out."""
        if principal.admin:
            return await self._store.keys.revoke(key_id, None)
        target = await self._store.keys.get(key_id, principal.project_id)
        if target.admin:
            raise AgentrunError(
                ErrorCode.forbidden,
                "Only an admin key may revoke an admin key.",
                {"key_id": key_id},
            )
        return await self._store.keys.revoke(key_id, principal.project_id, admin=False)

    async def bootstrap(self) -> ApiKeyCreated | None:
        """A server that requires keys and has none gets one admin key, printed once at start."""
        if self.keyless_allowed or await self._store.keys.count_active() > 0:
            return None
        return await self.create(DEFAULT_PROJECT, "bootstrap admin key", admin=True)
