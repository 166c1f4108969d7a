"""A real server process with keys required, as protocol clients meet it: the admin key it prints
at first start, a key of each of two projects (a caller and a foreigner), and a local
OpenAI-compatible model recording what it was sent."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.backends import backend_env, pg_available
from tests.support.fake_openai import FakeOpenAI, Turn
from tests.support.live import LiveServer

KEY_LINE = re.compile(r"created admin API key for project 'default' \(shown once\): (\S+)")


@dataclass
class KeyedServer:
    server: LiveServer
    admin: str
    keys: dict[str, str]  # project -> key
    model: FakeOpenAI


@contextmanager
def keyed_server(
    backend: str,
    tmp: Path,
    key_name: str,
    extra_env: Mapping[str, str] | None = None,
    projects: tuple[str, ...] = ("acme", "rival"),
) -> Iterator[KeyedServer]:
    if backend == "postgres" and not pg_available():
        pytest.fail("PostgreSQL is not reachable; start it (see .ci/run) or set AGENTRUN_TEST_PG_URL")
    with backend_env(backend, tmp) as env, FakeOpenAI([Turn(text="noted")]) as model:
        extra = {k: v for k, v in env.items() if k != "AGENTRUN_DATA_DIR"}
        extra |= {
            "AGENTRUN_AUTH_MODE": "required",
            "AGENTRUN_PROVIDERS__OPENAI_API_KEY": "sk-test",
            "AGENTRUN_PROVIDERS__OPENAI_BASE_URL": model.url,
            **(extra_env or {}),
        }
        server = LiveServer(tmp / "data", extra_env=extra).start()
        try:
            found = KEY_LINE.search(server.log())
            assert found, server.log()
            admin = found.group(1)
            keys = {}
            with httpx.Client(base_url=server.url, headers={"X-API-Key": admin}) as http:
                for project in projects:
                    made = http.post("/v1/admin/keys", json={"project": project, "name": key_name})
                    assert made.status_code == 201, made.text
                    keys[project] = made.json()["key"]
            yield KeyedServer(server, admin, keys, model)
        finally:
            server.stop()
