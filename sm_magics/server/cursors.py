"""Opaque log cursors: a backend's cursor (a JSON object) as one URL-safe string.

Backends keep their position in a job's logs as a dict (byte offsets per file locally,
CloudWatch tokens on SageMaker). The REST API hands it to the browser as a string the
client passes back unchanged, so the panel never depends on what is inside and a backend
may change its cursor without breaking it.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from sm_magics.errors import InvalidRequest


def encode(cursor: dict[str, Any]) -> str:
    """Return ``cursor`` as an unpadded URL-safe base64 string of its compact JSON."""
    raw = json.dumps(cursor, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(text: str | None) -> dict[str, Any] | None:
    """Return the backend cursor inside ``text``; ``None`` (start of the logs) when empty.

    Raises
    ------
    InvalidRequest
        ``text`` is not a cursor this API handed out.
    """
    if not text:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        cursor = json.loads(raw)
    except (binascii.Error, ValueError):
        cursor = None
    if not isinstance(cursor, dict):
        raise InvalidRequest("Invalid log cursor: pass back the 'cursor' of the last answer.")
    return cursor
