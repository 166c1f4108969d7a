"""The SDK's public surface is exactly ``__all__`` (like httpx's tests/test_exported_members.py)."""

from __future__ import annotations

import subprocess
import sys
import types

import agentrun.client as sdk


def test_all_lists_exactly_the_public_members() -> None:
    public = {
        name
        for name in dir(sdk)
        if not name.startswith("_") and not isinstance(getattr(sdk, name), types.ModuleType)
    }
    assert public == set(sdk.__all__)
    assert len(sdk.__all__) == len(set(sdk.__all__))


def test_public_classes_belong_to_the_package() -> None:
    for name in sdk.__all__:
        member = getattr(sdk, name)
        if isinstance(member, type):
            assert member.__module__ == "agentrun.client", name


def test_errors_share_one_base() -> None:
    for name in sdk.__all__:
        member = getattr(sdk, name)
        if isinstance(member, type) and issubclass(member, Exception):
            assert issubclass(member, sdk.AgentrunError), name


def test_importing_the_sdk_loads_no_server_module() -> None:
    code = (
        "import sys, agentrun.client\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('agentrun.')\n"
        "                and not m.startswith('agentrun.client'))\n"
        "print(','.join(loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
