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
from typing import TYPE_CHECKING, NoReturn

from sm_magics.errors import InvalidRequest

if TYPE_CHECKING:
    from sm_magics.backends.results import LogCursor


def encode(cursor: LogCursor) -> str:
    """Return ``cursor`` as an unpadded URL-safe base64 string of its compact JSON."""
    raw = json.dumps(cursor, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(text: str | None) -> dict[str, object] | None:
    """Return the backend cursor inside ``text``; ``None`` (start of the logs) when empty.

    Raises
    ------
    InvalidRequest
        ``text`` is not a cursor this API handed out.
    """
    if not text:
        return None
    cursor: object = None
    if len(text) <= MAX_CURSOR_CHARS:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            cursor = json.loads(raw, parse_constant=_no_constant)
        except (binascii.Error, ValueError, RecursionError):
            cursor = None
    if not isinstance(cursor, dict) or not _plausible(cursor, 0):
        raise InvalidRequest("Invalid log cursor: pass back the 'cursor' of the last answer.")
    return cursor


#: A cursor is a few offsets or tokens per stream: anything longer was not handed out here.
MAX_CURSOR_CHARS = 1 << 20
_MAX_DEPTH = 8
_MAX_NUMBER = 1 << 62


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a cursor value")


def _plausible(value: object, depth: int) -> bool:
    """Whether ``value`` could be a cursor a backend handed out.

    Backends keep byte offsets, timestamps and tokens: no number is negative or beyond
    any file's size, and nesting is shallow. A forged cursor (``-1``, ``1e300``, a deep
    nest) is refused here, before any backend seeks or sleeps on it.
    """
    if depth > _MAX_DEPTH:
        return False
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    if isinstance(value, (int, float)):
        return 0 <= value <= _MAX_NUMBER
    if isinstance(value, list):
        return all(_plausible(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return all(_plausible(item, depth + 1) for item in value.values())
    return False
