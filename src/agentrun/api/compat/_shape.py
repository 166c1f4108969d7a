"""Small value conversions the vendor surfaces share."""

from __future__ import annotations

import json
from typing import Any


def iso(value: Any) -> str | None:
    """An ISO 8601 timestamp, or None."""
    return value.isoformat() if value is not None else None


def text(value: Any) -> str | None:
    """A result as text: strings as they are, anything else as canonical JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)
