"""Lookups: what an instance costs per hour and for a duration, and what the table covers.

The table is read and derived on the first lookup (not at import), then kept in memory.
"""

from __future__ import annotations

import math
import threading

from sm_magics.pricing.data import (
    _MB_PER_GB,
    _SECONDS_PER_HOUR,
    DEFAULT_REGION,
    Price,
    ServerlessRate,
    Usage,
    _Entry,
    _family,
    _read_data,
    _size_units,
    _Table,
    prices_path,
)
from sm_magics.pricing.rules import (
    _build,
)

_LOCK = threading.Lock()
_TABLE: _Table | None = None


def _table() -> _Table:
    """Return the table, reading the data file on first use (thread-safe)."""
    global _TABLE
    table = _TABLE
    if table is None:
        with _LOCK:
            if _TABLE is None:
                _TABLE = _build(_read_data(prices_path()))
            table = _TABLE
    return table


def reload() -> None:
    """Forget the table, so the next lookup reads the data file again (after a refresh)."""
    global _TABLE
    with _LOCK:
        _TABLE = None


# -- lookups --------------------------------------------------------------------------------


def _canonical_type(instance_type: str) -> str:
    """Lower-case and trim; accept ``"g5.xlarge"`` for ``"ml.g5.xlarge"``."""
    name = instance_type.strip().lower()
    if "." in name and not name.startswith("ml."):
        name = "ml." + name
    return name


def _canonical_region(region: str | None) -> str:
    return DEFAULT_REGION if region is None else region.strip().lower()


def _check_usage(usage: str) -> Usage:
    if usage == "training":
        return "training"
    if usage == "hosting":
        return "hosting"
    raise ValueError(f"usage must be 'training' or 'hosting', not {usage!r}")


def _source_text(table: _Table, entry: _Entry) -> str:
    return entry.source if entry.derived else table.sources.get(entry.source, entry.source)


def price(
    instance_type: str,
    region: str | None = None,
    *,
    usage: Usage = "training",
) -> Price | None:
    """Look up the hourly price of an instance type.

    Parameters
    ----------
    instance_type
        A SageMaker instance type such as ``"ml.m5.xlarge"`` (case and a missing ``ml.``
        prefix are forgiven).
    region
        AWS region code; ``None`` means :data:`DEFAULT_REGION`.
    usage
        ``"training"`` or ``"hosting"`` (real-time inference).

    Returns
    -------
    Price or None
        ``None`` when the type, region or combination is not in the table, including the
        local backend's ``"local"`` / ``"local_gpu"``: unknown is never an error, because
        a cost display must not break a job.

    Raises
    ------
    ValueError
        If ``usage`` is neither ``"training"`` nor ``"hosting"`` (a programming error).
    """
    checked = _check_usage(usage)
    name = _canonical_type(instance_type)
    where = _canonical_region(region)
    table = _table()
    entry = table.prices.get((name, where, checked))
    if entry is None:
        return None
    spot = entry.usd * (1.0 - table.spot_discount) if checked == "training" else None
    return Price(
        instance_type=name,
        region=where,
        usage=checked,
        on_demand_per_hour=entry.usd,
        spot_per_hour=spot,
        derived=entry.derived,
        source=_source_text(table, entry),
        as_of=entry.as_of,
    )


def hourly_cost(
    instance_type: str,
    instance_count: int = 1,
    region: str | None = None,
    *,
    usage: Usage = "training",
    spot: bool = False,
) -> float | None:
    """Return USD per hour for ``instance_count`` instances of a type.

    With ``spot=True`` the result is the spot *estimate* (see the module docstring); it is
    ``None`` for hosting, which has no spot option, and for any type :func:`price` does
    not know.

    Raises
    ------
    ValueError
        If ``instance_count`` is negative.
    """
    if instance_count < 0:
        raise ValueError(f"instance_count must be >= 0, not {instance_count}")
    found = price(instance_type, region, usage=usage)
    if found is None:
        return None
    per_instance = found.spot_per_hour if spot else found.on_demand_per_hour
    if per_instance is None:
        return None
    return per_instance * instance_count


def cost_for(
    seconds: float,
    instance_type: str,
    instance_count: int = 1,
    region: str | None = None,
    *,
    usage: Usage = "training",
    spot: bool = False,
) -> float | None:
    """Return the USD cost of running ``instance_count`` instances for ``seconds``.

    SageMaker bills per second, so this is the hourly rate times ``seconds / 3600`` with no
    rounding up. It covers instance time only, not storage or data transfer.

    Raises
    ------
    ValueError
        If ``seconds`` is negative or not finite, or ``instance_count`` is negative.
    """
    _check_seconds(seconds)
    per_hour = hourly_cost(instance_type, instance_count, region, usage=usage, spot=spot)
    if per_hour is None:
        return None
    return per_hour * seconds / _SECONDS_PER_HOUR


def _check_seconds(seconds: float) -> None:
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"seconds must be a finite number >= 0, not {seconds!r}")


def serverless_rate(region: str | None = None) -> ServerlessRate | None:
    """Return the Serverless Inference rates of a region (``None`` if not in the table)."""
    where = _canonical_region(region)
    table = _table()
    compute = table.serverless.get(where)
    if compute is None:
        return None
    data = table.serverless_data.get(where)
    return ServerlessRate(
        region=where,
        per_gb_second=compute.usd,
        per_gb_data=data.usd if data is not None else 0.0,
        derived=compute.derived,
        source=_source_text(table, compute),
        as_of=compute.as_of,
    )


def serverless_cost(
    memory_mb: int,
    seconds_of_compute: float,
    requests: int = 0,
    region: str | None = None,
    *,
    data_gb: float = 0.0,
) -> float | None:
    """Return the USD cost of serverless inference: memory x compute time, plus data.

    Parameters
    ----------
    memory_mb
        The endpoint's ``MemorySizeInMB`` (1024 to 6144).
    seconds_of_compute
        Total compute duration over all requests (SageMaker bills each request's
        duration, rounded up to the millisecond; pass the sum).
    requests
        Number of requests. SageMaker Serverless Inference has no per-request fee, so
        this adds nothing; it is accepted so that callers state the traffic they cost and
        the result stays right if AWS adds one (the data file would say so).
    region
        AWS region code; ``None`` means :data:`DEFAULT_REGION`.
    data_gb
        Payload processed, in and out, in GB.

    Returns
    -------
    float or None
        ``None`` when the region has no serverless rate in the table. An idle serverless
        endpoint costs :data:`SERVERLESS_IDLE_PER_HOUR` (0).

    Raises
    ------
    ValueError
        For a non-positive memory size or a negative or non-finite duration, request
        count or data volume.
    """
    if memory_mb <= 0:
        raise ValueError(f"memory_mb must be positive, not {memory_mb!r}")
    _check_seconds(seconds_of_compute)
    if requests < 0:
        raise ValueError(f"requests must be >= 0, not {requests!r}")
    if not math.isfinite(data_gb) or data_gb < 0:
        raise ValueError(f"data_gb must be a finite number >= 0, not {data_gb!r}")
    rate = serverless_rate(region)
    if rate is None:
        return None
    compute = memory_mb / _MB_PER_GB * seconds_of_compute * rate.per_gb_second
    return compute + data_gb * rate.per_gb_data


def format_usd(amount: float | None) -> str:
    """Format a dollar amount for display.

    At least two decimals, with thousands separators; amounts under ten cents keep two
    significant digits, so a few seconds on a small instance do not show as ``$0.00``.

    Examples
    --------
    >>> format_usd(0.00123)
    '$0.0012'
    >>> format_usd(1.234)
    '$1.23'
    >>> format_usd(1234.561)
    '$1,234.56'
    >>> format_usd(None)
    'n/a'
    """
    if amount is None or not math.isfinite(amount):
        return "n/a"
    sign = "-" if amount < 0 else ""
    size = abs(amount)
    decimals = 2
    if 0 < size < 0.1:
        decimals = max(2, 1 - math.floor(math.log10(size)))
    text = f"{size:,.{decimals}f}"
    if decimals > 2:
        whole, _, fraction = text.partition(".")
        text = whole + "." + (fraction.rstrip("0").ljust(2, "0"))
    if float(text.replace(",", "")) == 0:
        sign = ""
    return f"{sign}${text}"


def _size_rank(instance_type: str) -> float:
    units = _size_units(instance_type)
    return math.inf if units is None else units


def _sort_key(instance_type: str) -> tuple[str, float, str]:
    return (_family(instance_type), _size_rank(instance_type), instance_type)


def catalogue(usage: Usage = "training") -> list[str]:
    """List the instance types the bundled data sets out to price, for ``usage``.

    Hosting-only families (ml.t3, ml.inf2) are not in the training list. A ``refresh``
    may price more types than these; :func:`known_instance_types` lists what is priced.
    """
    checked = _check_usage(usage)
    table = _table()
    names = [
        f"{family}.{size}"
        for family, sizes in table.catalogue.items()
        if not (checked == "training" and family in table.hosting_only)
        for size in sizes
    ]
    return sorted(names, key=_sort_key)


def known_instance_types(usage: Usage = "training", *, region: str | None = None) -> list[str]:
    """List the instance types with a price for ``usage``, in family and size order.

    Parameters
    ----------
    usage
        ``"training"`` or ``"hosting"``.
    region
        Only types priced in this region; ``None`` (the default) means any region.
    """
    checked = _check_usage(usage)
    where = None if region is None else _canonical_region(region)
    names = {
        instance_type
        for (instance_type, in_region, in_usage) in _table().prices
        if in_usage == checked and (where is None or in_region == where)
    }
    return sorted(names, key=_sort_key)


def known_regions() -> list[str]:
    """List the region codes that have any price in the table."""
    return sorted({region for (_, region, _) in _table().prices})
