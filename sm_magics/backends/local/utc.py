"""Epoch seconds as the timezone-aware UTC datetimes boto3 answers with.

The local backend keeps times as epoch seconds (``state.json``) and answers in
SageMaker's shapes, whose times are ``datetime`` objects in UTC: every local description
converts through here.
"""

from __future__ import annotations

from datetime import datetime, timezone


def at(timestamp: float) -> datetime:
    """Return epoch seconds as an aware UTC ``datetime``."""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


def at_or_none(timestamp: float | None) -> datetime | None:
    """Return :func:`at` of ``timestamp``, or ``None`` where there is none (``None``, 0)."""
    return at(timestamp) if timestamp else None
