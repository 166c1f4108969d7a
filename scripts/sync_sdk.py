"""Generate the SDK's sync resources from the async ones, or check that they match.

    .venv/bin/python scripts/sync_sdk.py          # after editing client/_async_resources.py
    .venv/bin/python scripts/sync_sdk.py --check  # scripts/test: fail when the two drifted

``src/agentrun/client/_async_resources.py`` is the one written by hand; ``_resources.py`` is its
output (``unasync`` drops ``async``/``await`` and renames the async types, as httpcore does), then
ruff sorts and formats it. Edit the async file, never the generated one.
"""

from __future__ import annotations

import argparse
import difflib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import unasync

ROOT = Path(__file__).resolve().parents[1]
CLIENT = ROOT / "src" / "agentrun" / "client"
SOURCE, TARGET = CLIENT / "_async_resources.py", CLIENT / "_resources.py"
RUFF = Path(sys.executable).with_name("ruff")

REPLACEMENTS = {
    "AsyncClient": "Client",
    "AsyncAgents": "Agents",
    "AsyncRuns": "Runs",
    "AsyncThreads": "Threads",
    "AsyncRunStream": "RunStream",
    "AsyncEventStream": "EventStream",
    "anyio": "time",  # anyio.sleep -> time.sleep; the import itself is dropped below
}
ASYNC_DOC = (
    '"""Async resources: ``client.agents``, ``client.runs``, ``client.threads`` of :class:`AsyncClient`."""'
)
SYNC_DOC = (
    '"""Sync resources: ``client.agents``, ``client.runs``, ``client.threads``.\n\n'
    "Generated from ``_async_resources.py`` by ``scripts/sync_sdk.py``: edit that file, then run the script.\n"
    '"""'
)


def render() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        src_dir, out_dir = Path(tmp) / "_async", Path(tmp) / "_sync"
        src_dir.mkdir()
        shutil.copy(SOURCE, src_dir / "resources.py")
        rule = unasync.Rule(str(src_dir) + "/", str(out_dir) + "/", additional_replacements=REPLACEMENTS)
        unasync.unasync_files([str(src_dir / "resources.py")], rules=[rule])
        out = out_dir / "resources.py"
        text = out.read_text()
        if ASYNC_DOC not in text:
            raise SystemExit(f"{SOURCE.name} must start with the docstring {ASYNC_DOC}")
        text = text.replace(ASYNC_DOC, SYNC_DOC, 1).replace("import time\n\nimport time\n", "import time\n")
        text = text.replace("\nimport time\nfrom pydantic", "\nfrom pydantic")  # the former `import anyio`
        out.write_text(text)
        for args in (
            ["check", "--fix", "--unsafe-fixes", "--quiet", "--select", "I,UP,F401"],
            ["format", "--quiet"],
        ):
            subprocess.run([str(RUFF), *args, "--config", str(ROOT / "pyproject.toml"), str(out)], check=True)
        return out.read_text()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if _resources.py is not the generated one"
    )
    args = parser.parse_args()
    generated = render()
    if not args.check:
        TARGET.write_text(generated)
        print(f"wrote {TARGET.relative_to(ROOT)}")
        return 0
    current = TARGET.read_text()
    if current == generated:
        return 0
    diff = difflib.unified_diff(
        current.splitlines(), generated.splitlines(), "_resources.py (in the repo)", "generated", lineterm=""
    )
    print("\n".join(list(diff)[:80]), file=sys.stderr)
    print(
        "src/agentrun/client/_resources.py drifted from _async_resources.py: edit the async file and "
        "run `.venv/bin/python scripts/sync_sdk.py`.",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
