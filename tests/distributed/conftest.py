"""Several real agentrun processes on one PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field

import pytest

from tests.support.backends import fresh_postgres, pg_available
from tests.support.live import LiveServer, live_worker

# Fast liveness so takeover happens within a test's patience.
FAST_LIVENESS = {"AGENTRUN_HEARTBEAT_S": "1", "AGENTRUN_DEAD_AFTER_S": "4", "AGENTRUN_REAP_AFTER_S": "60"}


@dataclass
class Cluster:
    apis: list[LiveServer]
    workers: list[LiveServer]
    env: dict[str, str]
    extra: list[LiveServer] = field(default_factory=list)

    def stop(self) -> None:
        procs = [*self.apis, *self.workers, *self.extra]
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.stop()


@pytest.fixture
def pg_url() -> Iterator[str]:
    if not pg_available():
        pytest.fail("PostgreSQL is not reachable; start it (see .ci/run) or set AGENTRUN_TEST_PG_URL")
    with fresh_postgres() as url:
        yield url


def start_cluster(
    tmp_path, pg_url: str, apis: int, workers: int, env: dict[str, str] | None = None
) -> Cluster:  # type: ignore[no-untyped-def]
    shared = {"AGENTRUN_DATABASE_URL": pg_url, **FAST_LIVENESS, **(env or {})}
    cluster = Cluster([], [], shared)
    with ExitStack() as undo:
        undo.callback(cluster.stop)
        for i in range(apis):
            api = LiveServer(tmp_path / f"api{i}", extra_env={**shared, "AGENTRUN_RUN_WORKER": "false"})
            cluster.apis.append(api.spawn())
            if i == 0:
                api.wait_ready(60)  # the first process runs the migrations alone
        for i in range(workers):
            cluster.workers.append(live_worker(tmp_path / f"worker{i}", f"worker-{i}", shared).spawn())
        for proc in [*cluster.apis, *cluster.workers]:
            proc.wait_ready(60)
        undo.pop_all()
    return cluster
