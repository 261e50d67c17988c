"""Durations as users type them (``30m``, ``2h``, ``1h30m``, ``86400``) and as tables show them."""

from __future__ import annotations

import math
import re

from sm_magics.errors import InvalidRequest

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


def parse_duration(text: str | float | int) -> int:
    """Return seconds for ``"90"``, ``"90s"``, ``"30m"``, ``"2h"``, ``"1h30m"`` or ``"1d"``.

    Raises
    ------
    InvalidRequest
        The text is not a positive duration.
    """
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        cleaned = text.strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(\.\d+)?", cleaned):
            seconds = float(cleaned)
        elif cleaned and _PART.sub("", cleaned) == "":
            seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(cleaned))
        else:
            raise InvalidRequest(
                f"Cannot read duration {text!r}: use seconds (86400) or units like 30m, 2h, 1h30m."
            )
    if not math.isfinite(seconds):  # "9" * 400 is float("inf"): round() would overflow
        raise InvalidRequest(f"Cannot read duration {text!r}: it is too large.")
    if seconds <= 0:
        raise InvalidRequest(f"Duration {text!r} must be positive.")
    return max(1, round(seconds))


def format_duration(seconds: float | None) -> str:
    """Return ``"42s"``, ``"3m 05s"`` or ``"2h 03m"`` (``"-"`` for ``None``)."""
    if seconds is None:
        return "-"
    total = int(max(0, seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"
