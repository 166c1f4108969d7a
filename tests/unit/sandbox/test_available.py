from __future__ import annotations

from pathlib import Path

import pytest

from agentrun.sandbox import SandboxLimits, SandboxUnavailable, Workspace, sandbox_available


def test_bwrap_is_usable_here() -> None:
    assert sandbox_available() is None


def test_missing_bwrap_gives_the_package_to_install(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-bwrap"
    reason = sandbox_available(missing)
    assert reason is not None
    assert str(missing) in reason
    assert "apt-get install bubblewrap" in reason


async def test_run_with_missing_bwrap_raises_unavailable(ws_base: Path) -> None:
    ws = Workspace(ws_base / "ws", bwrap_path=ws_base / "missing-bwrap")
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        await ws.run("echo hi", limits=SandboxLimits())


def test_a_broken_bwrap_is_reported(ws_base: Path) -> None:
    fake = ws_base / "bwrap"  # reachable by the sandbox uid, which is who runs bwrap
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    reason = sandbox_available(fake)
    assert reason is not None and "cannot create a sandbox" in reason and "namespace" in reason
