"""Write the HTTP API's OpenAPI document to docs/openapi.json, or check that it is current.

    .venv/bin/python scripts/openapi.py          # regenerate after changing the API
    .venv/bin/python scripts/openapi.py --check  # scripts/test: fail when the file is stale

The document is an artifact: clients generate code from it, so a change to the API shows up as a
reviewed diff of this file. It is built from the app factory with default settings (no server,
no database), the same document a default server serves at /openapi.json.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import tempfile
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "openapi.json"


def render() -> str:
    from agentrun.api.app import create_app
    from agentrun.settings import Settings

    with tempfile.TemporaryDirectory() as data_dir, warnings.catch_warnings():
        warnings.simplefilter("error")  # a duplicate operation id is a broken document, not a note
        app = create_app(Settings(data_dir=data_dir))  # type: ignore[call-arg]
        document = app.openapi()
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/openapi.json is not current")
    args = parser.parse_args()
    current = render()
    if not args.check:
        TARGET.write_text(current)
        print(f"wrote {TARGET.relative_to(ROOT)}")
        return 0
    stored = TARGET.read_text() if TARGET.exists() else ""
    if stored == current:
        return 0
    diff = difflib.unified_diff(
        stored.splitlines(), current.splitlines(), "docs/openapi.json", "the app's document", lineterm="", n=1
    )
    lines = list(diff)
    print("\n".join(lines[:80]), file=sys.stderr)
    if len(lines) > 80:
        print(f"... {len(lines) - 80} more diff lines", file=sys.stderr)
    print(
        "docs/openapi.json is stale: the API changed. Run `.venv/bin/python scripts/openapi.py` and commit it.",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
