"""What an Amazon SageMaker instance costs per hour, for training and for hosting.

Every job and endpoint shows its running cost, and a local job shows what it *would* cost
on SageMaker, so the package needs prices without a network call and without boto3. The
prices are a data file, ``sm_magics/prices.json``, read once on the first lookup (not at
import: ``%load_ext sm_magics`` imports this module and must stay cheap) and kept in
memory; ``python -m sm_magics.pricing refresh`` rewrites it from the AWS Price List API.

What the table covers
---------------------
USD per instance-hour, Linux, on-demand, for ``training`` (training jobs) and ``hosting``
(real-time endpoints), for every instance type of :func:`catalogue` in the
:data:`MAIN_REGIONS` (the three US regions SageMaker prices alike, the two busiest EU
regions, Tokyo, Singapore and Sydney), plus Serverless Inference per GB-second
(:func:`serverless_cost`). Each :class:`Price` says where it comes from (``source``) and
the date of that figure (``as_of``).

Measured and derived
--------------------
A *measured* figure was read from a named source for exactly that type, region and usage
(the sources are in the data file: the Price List API, the SageMaker pricing page, an AWS
bill; each entry keeps its own date). Where none was found, a documented rule fills the
gap, in this order, and the :class:`Price` says ``derived=True`` and names the rule:

1. ``same-rate-both-usages``: SageMaker charges one rate per type and region for training
   and hosting (all 15 pairs published for both agree); not applied to training for the
   hosting-only families (ml.t3, ml.inf2).
2. ``same-price-regions``: us-east-1, us-east-2 and us-west-2 have one price list (the one
   pair published for two of them agrees: ml.m5.12xlarge 2.765; EC2 lists the three
   alike too).
3. ``sibling``: ml.m6i / ml.c6i sizes as the ml.m5 / ml.c5 size of the same name (EC2 lists
   them at the same rate), ml.trn1.2xlarge as 1/16 of ml.trn1.32xlarge (one Trainium chip
   of sixteen; EC2 prices trn1 exactly per chip).
4. ``size-linear``: in the CPU families (ml.m5, ml.m6i, ml.c5, ml.c6i, ml.c7i, ml.r5,
   ml.t3) a size costs its share of the family's per-``large`` rate: the published
   sizes fit that to the third decimal (ml.m5: 0.115 per large unit from large to
   24xlarge). GPU families are never extended this way.
5. ``family-region-ratio``: a family's price in another region is its us-east-1 price
   times the ratio measured on one of its types published in both (eu-west-1 bill:
   ml.m5 1.117, ml.g4dn 1.116, ml.g5 1.115, ml.p3 1.080).
6. ``ec2-region-ratio``: otherwise the ratio of the EC2 on-demand rates of the family's
   EC2 counterpart in the two regions. Checked where both exist: in eu-west-1 the EC2
   ratios agree with the four measured SageMaker ratios within 0.3%. Families without an
   EC2 anchor in a region use ``p3.2xlarge`` (accelerated) or ``m5.large`` (CPU): the
   coarsest rule here, and the one a ``refresh`` replaces first.

Each rule fills only what is still missing, so a measured figure always wins over a
derived one and an earlier rule over a later one. Derived figures are rounded to 4
decimals. Prices change (the 2025 cut took a third off ml.p4d and 44% off ml.p5): treat
every figure as an estimate, and run ``refresh`` before relying on one.

Spot
----
SageMaker managed spot training has no price list: the Price List API has no spot entry
for it (a spot job bills the on-demand rate for ``BillableTimeInSeconds``, shorter than
its training time by a discount that varies by type, region and moment). ``spot=True``
and :attr:`Price.spot_per_hour` are therefore an **estimate**, on-demand less the file's
``spot_discount`` (60%: below the 62-63% measured on three public ml.p5 jobs and AWS's
"up to 90%", so it errs towards too high). A finished spot job's compute is exact:
``cost_for(BillableTimeInSeconds, ...)`` with ``spot=False``. Hosting has no spot option.

Serverless
----------
A serverless endpoint bills memory times compute duration (per GB-second) plus data
processed, and nothing while idle: :data:`SERVERLESS_IDLE_PER_HOUR` is 0, which is why
its cost per hour in tables is 0 rather than unknown.

Run ``python -m sm_magics.pricing`` to print the table, ``python -m sm_magics.pricing
refresh`` to update it (needs AWS credentials with ``pricing:GetProducts``).
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

Usage = Literal["training", "hosting"]

__all__ = [
    "DEFAULT_REGION",
    "MAIN_REGIONS",
    "SERVERLESS_IDLE_PER_HOUR",
    "Price",
    "RefreshError",
    "RefreshReport",
    "ServerlessRate",
    "Usage",
    "catalogue",
    "cost_for",
    "format_usd",
    "hourly_cost",
    "known_instance_types",
    "known_regions",
    "main",
    "price",
    "refresh",
    "serverless_cost",
    "serverless_rate",
]

#: Region used when a caller passes ``region=None``.
DEFAULT_REGION: Final = "us-east-1"
#: The regions every catalogue type is priced in (measured or derived), for both usages.
MAIN_REGIONS: Final[tuple[str, ...]] = (
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-northeast-1",
    "ap-southeast-1",
    "ap-southeast-2",
)
#: What a serverless endpoint costs per hour with no requests: nothing (no instance runs).
SERVERLESS_IDLE_PER_HOUR: Final = 0.0
#: The bundled data file; ``SM_MAGICS_PRICES`` names another one (e.g. a refreshed copy).
BUNDLED_PRICES: Final = Path(__file__).with_name("prices.json")
ENV_PRICES: Final = "SM_MAGICS_PRICES"
#: Source key written by :func:`refresh` for every figure it reads.
REFRESH_SOURCE: Final = "price-list-api-refresh"
REFRESH_SOURCE_TEXT: Final = (
    "AWS Price List API (pricing.get_products, service code AmazonSageMaker, on-demand "
    "terms of the Train:/Host: usage types), read by python -m sm_magics.pricing refresh"
)
#: The AWS Price List API answers in these regions only; us-east-1 serves every region.
PRICING_API_REGION: Final = "us-east-1"

_USAGES: Final[tuple[Usage, ...]] = ("training", "hosting")
_SECONDS_PER_HOUR: Final = 3600.0
_MB_PER_GB: Final = 1024.0
_SIZE_RE: Final = re.compile(r"^(\d*)xlarge$")
_NAMED_SIZES: Final[dict[str, float]] = {
    "nano": 0.125,
    "micro": 0.25,
    "small": 0.5,
    "medium": 0.5,  # ml.t3.medium is 2 vCPUs like large, priced half of it
    "large": 1.0,
}


@dataclass(frozen=True)
class Price:
    """The hourly price of one instance of a type, in one region, for one usage.

    Attributes
    ----------
    instance_type
        Canonical SageMaker name, e.g. ``"ml.g5.xlarge"``.
    region
        AWS region code, e.g. ``"us-east-1"``.
    usage
        ``"training"`` (training jobs) or ``"hosting"`` (real-time endpoints).
    on_demand_per_hour
        USD per instance-hour, on-demand.
    spot_per_hour
        Estimated USD per instance-hour with managed spot training; an estimate, never a
        published price. ``None`` for hosting, which has no spot option.
    derived
        ``True`` when no figure was found for this exact type, region and usage and a
        documented rule filled it (see the module docstring).
    source
        For a measured figure, what it was read from; for a derived one, the rule and
        the figure it was derived from.
    as_of
        The date of the figure (or of the one it was derived from), as precise as its
        source gives it: ``"2026-08-11"``, ``"2023-12"``, ``"2025"``.
    """

    instance_type: str
    region: str
    usage: Usage
    on_demand_per_hour: float
    spot_per_hour: float | None
    derived: bool
    source: str = field(default="", compare=False)
    as_of: str = field(default="", compare=False)


@dataclass(frozen=True)
class ServerlessRate:
    """Serverless Inference rates of one region.

    Attributes
    ----------
    region
        AWS region code.
    per_gb_second
        USD per GB of configured memory per second of compute.
    per_gb_data
        USD per GB of request and response payload processed.
    derived, source, as_of
        As for :class:`Price`.
    """

    region: str
    per_gb_second: float
    per_gb_data: float
    derived: bool
    source: str
    as_of: str


# -- the table ------------------------------------------------------------------------------

_Key = tuple[str, str, Usage]  # (instance type, region, usage)


class _Entry:
    """One figure: measured, or derived by the rule that ``source`` names.

    A plain class: a dataclass would cost the kernel's import of this module time.
    """

    __slots__ = ("as_of", "derived", "source", "usd")

    def __init__(self, usd: float, derived: bool, source: str, as_of: str) -> None:
        self.usd = usd
        self.derived = derived
        self.source = source
        self.as_of = as_of


class _Table:
    """Everything the data file gives, with the derived figures filled in."""

    def __init__(
        self,
        *,
        prices: dict[_Key, _Entry],
        serverless: dict[str, _Entry],
        serverless_data: dict[str, _Entry],
        catalogue: dict[str, list[str]],
        hosting_only: frozenset[str],
        spot_discount: float,
        compiled: str,
        sources: dict[str, str],
    ) -> None:
        self.prices = prices
        self.serverless = serverless
        self.serverless_data = serverless_data
        self.catalogue = catalogue
        self.hosting_only = hosting_only
        self.spot_discount = spot_discount
        self.compiled = compiled
        self.sources = sources


_LOCK = threading.Lock()
_TABLE: _Table | None = None


def _family(instance_type: str) -> str:
    """Return ``"ml.g5"`` for ``"ml.g5.xlarge"``."""
    return instance_type.rsplit(".", 1)[0]


def _size_units(instance_type: str) -> float | None:
    """Return a size in ``large`` units (xlarge = 2, 12xlarge = 24); ``None`` if unknown."""
    size = instance_type.rsplit(".", 1)[-1]
    if size in _NAMED_SIZES:
        return _NAMED_SIZES[size]
    match = _SIZE_RE.match(size)
    if match:
        return 2.0 * float(match.group(1) or 1)
    return None


def prices_path() -> Path:
    """Return the data file lookups read: ``$SM_MAGICS_PRICES``, else the bundled one."""
    configured = os.environ.get(ENV_PRICES, "").strip()
    return Path(configured).expanduser() if configured else BUNDLED_PRICES


def _read_data(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    if not isinstance(data, dict) or data.get("format") != 1:
        raise ValueError(f"{path} is not an sm-magics price file (format 1)")
    return data


def _build(data: Mapping[str, Any]) -> _Table:
    """Merge the measured figures and apply the derivation rules, in the documented order."""
    rules = data["rules"]
    sources: dict[str, str] = dict(data.get("sources", {}))
    decimals = int(rules.get("derived_decimals", 4))
    hosting_only = frozenset(rules.get("hosting_only_families", ()))
    prices: dict[_Key, _Entry] = {}
    for usage in _USAGES:
        for region, entries in data["measured"].get(usage, {}).items():
            for instance_type, (usd, source, as_of) in entries.items():
                prices[(instance_type, region, usage)] = _Entry(float(usd), False, source, as_of)

    def fill(key: _Key, usd: float, rule: str, origin: _Entry) -> None:
        if key in prices:
            return
        if key[2] == "training" and _family(key[0]) in hosting_only:
            return
        prices[key] = _Entry(round(usd, decimals), True, rule, origin.as_of)

    catalogue: dict[str, list[str]] = {f: list(s) for f, s in data["catalogue"].items()}
    main_regions = list(data.get("main_regions", MAIN_REGIONS))
    groups: list[list[str]] = [list(g) for g in rules.get("same_price_regions", ())]
    base = str(rules.get("region_base", DEFAULT_REGION))

    def snapshot() -> list[tuple[_Key, _Entry]]:
        return list(prices.items())

    # 1. one rate for training and hosting
    for (instance_type, region, usage), entry in snapshot():
        other: Usage = "hosting" if usage == "training" else "training"
        fill(
            (instance_type, region, other),
            entry.usd,
            f"same-rate-both-usages: the {usage} rate ({entry.source})",
            entry,
        )

    # 2. regions with one price list
    def same_price_regions() -> None:
        for group in groups:
            for (instance_type, region, usage), entry in snapshot():
                if region not in group:
                    continue
                for twin in group:
                    fill(
                        (instance_type, twin, usage),
                        entry.usd,
                        f"same-price-regions: as in {region} ({entry.source})",
                        entry,
                    )

    same_price_regions()

    # 3. siblings
    for target, (origin, factor) in rules.get("siblings", {}).items():
        for (instance_type, region, usage), entry in snapshot():
            if instance_type == origin:
                fill(
                    (target, region, usage),
                    entry.usd * float(factor),
                    f"sibling: {origin} x {float(factor):g} ({entry.source})",
                    entry,
                )

    # 4. size-linear CPU families
    linear = set(rules.get("size_linear_families", ()))
    for (instance_type, region, usage), entry in snapshot():
        family = _family(instance_type)
        units = _size_units(instance_type)
        if family not in linear or not units or (entry.derived and "size-linear" in entry.source):
            continue
        for size in catalogue.get(family, ()):
            target = f"{family}.{size}"
            target_units = _size_units(target)
            if target_units:
                fill(
                    (target, region, usage),
                    entry.usd / units * target_units,
                    f"size-linear: {instance_type} per size unit ({entry.source})",
                    entry,
                )
    same_price_regions()  # sizes filled in one US region hold in the others

    # 5. measured family ratios, 6. EC2 ratios, from the base region to every main region
    anchors: dict[str, dict[str, str]] = rules.get("family_region_anchors", {})
    ec2_rates: dict[str, dict[str, float]] = rules.get("ec2_rates", {})
    ec2_anchor: dict[str, str] = rules.get("ec2_anchor", {})
    fallback: dict[str, str] = rules.get("ec2_fallback_anchor", {})
    accelerated = set(rules.get("accelerated_families", ()))

    def ec2_ratio(family: str, region: str) -> tuple[float, str] | None:
        candidates = [ec2_anchor.get(family)]
        candidates.append(fallback.get("accelerated" if family in accelerated else "cpu"))
        for anchor in candidates:
            rates = ec2_rates.get(anchor or "", {})
            if region in rates and base in rates:
                return rates[region] / rates[base], anchor or ""
        return None

    base_entries = [(k, e) for k, e in snapshot() if k[1] == base]
    for region in main_regions:
        if region == base:
            continue
        measured_ratio: dict[str, tuple[float, str]] = {}
        for family, anchor in anchors.get(region, {}).items():
            here = prices.get((anchor, region, "training"))
            there = prices.get((anchor, base, "training"))
            if here and there and not here.derived:
                measured_ratio[family] = (here.usd / there.usd, anchor)
        for (instance_type, _, usage), entry in base_entries:
            family = _family(instance_type)
            if family in measured_ratio:
                ratio, anchor = measured_ratio[family]
                rule = f"family-region-ratio: {base} x {ratio:.4f} ({anchor} in both)"
            else:
                found = ec2_ratio(family, region)
                if found is None:
                    continue
                ratio, anchor = found
                rule = f"ec2-region-ratio: {base} x {ratio:.4f} (EC2 {anchor})"
            fill((instance_type, region, usage), entry.usd * ratio, rule, entry)

    serverless = _build_regional(
        data.get("serverless_per_gb_second", {}), groups, main_regions, base, ec2_ratio
    )
    serverless_data = _build_regional(
        data.get("serverless_data_per_gb", {}), groups, main_regions, base, ec2_ratio
    )
    return _Table(
        prices=prices,
        serverless=serverless,
        serverless_data=serverless_data,
        catalogue=catalogue,
        hosting_only=hosting_only,
        spot_discount=float(data.get("spot_discount", 0.6)),
        compiled=str(data.get("compiled", "")),
        sources=sources,
    )


def _build_regional(
    measured: Mapping[str, Sequence[Any]],
    groups: Sequence[Sequence[str]],
    regions: Sequence[str],
    base: str,
    ec2_ratio: Callable[[str, str], tuple[float, str] | None],
) -> dict[str, _Entry]:
    """Serverless rates per region: measured, then same-price regions, then EC2 CPU ratio."""
    rates = {r: _Entry(float(v[0]), False, str(v[1]), str(v[2])) for r, v in measured.items()}
    for group in groups:
        known = [rates[r] for r in group if r in rates and not rates[r].derived]
        if known:
            for region in group:
                if region not in rates:
                    rates[region] = _Entry(
                        known[0].usd,
                        True,
                        f"same-price-regions ({known[0].source})",
                        known[0].as_of,
                    )
    origin = rates.get(base)
    if origin is not None:
        for region in regions:
            found = ec2_ratio("", region)  # CPU fallback anchor: memory-priced, not GPU
            if region not in rates and found is not None:
                ratio, anchor = found
                rates[region] = _Entry(
                    origin.usd * ratio,
                    True,
                    f"ec2-region-ratio: {base} x {ratio:.4f} (EC2 {anchor})",
                    origin.as_of,
                )
    return rates


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


def __getattr__(name: str) -> Any:
    """Return the module attributes that need the data file, reading it when asked."""
    if name == "PRICES_AS_OF":
        return _table().compiled
    if name == "PRICES_SOURCE":
        return "; ".join(_table().sources.values())
    if name == "DEFAULT_SPOT_DISCOUNT":
        return _table().spot_discount
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


# -- refresh from the AWS Price List API ----------------------------------------------------


class RefreshError(Exception):
    """A refresh could not run (no credentials, no permission, nothing found); nothing changed."""


class RefreshReport:
    """What :func:`refresh` did, for the summary it prints.

    Attributes
    ----------
    output
        The file written.
    regions
        Regions whose prices were updated, with how many instance prices were read.
    changed
        ``(type, region, usage, old, new)`` for figures whose value changed.
    added
        ``(type, region, usage, new)`` for figures the file did not have measured.
    skipped_regions
        Regions for which the API returned no SageMaker instance price (left unchanged).
    serverless
        Regions whose serverless rate was read.
    """

    def __init__(self, output: Path) -> None:
        self.output = output
        self.regions: dict[str, int] = {}
        self.changed: list[tuple[str, str, Usage, float, float]] = []
        self.added: list[tuple[str, str, Usage, float]] = []
        self.skipped_regions: list[str] = []
        self.serverless: list[str] = []

    def summary(self) -> str:
        """Return the text ``refresh`` prints."""
        lines = [f"Wrote {self.output}."]
        for region, count in self.regions.items():
            lines.append(f"  {region}: {count} instance prices from the AWS Price List API")
        for region in self.skipped_regions:
            lines.append(f"  {region}: no SageMaker instance prices returned; left as it was")
        types = {t for t, *_ in self.changed} | {t for t, *_ in self.added}
        lines.append(
            f"{len(self.changed)} prices changed, {len(self.added)} added "
            f"({len(types)} instance types)."
        )
        for instance_type, region, usage, old, new in self.changed[:50]:
            lines.append(f"  {instance_type} {region} {usage}: {old:g} -> {new:g}")
        if len(self.changed) > 50:
            lines.append(f"  ... and {len(self.changed) - 50} more")
        if self.serverless:
            lines.append(f"Serverless per GB-second read for {', '.join(self.serverless)}.")
        else:
            lines.append("Serverless rates: none in the response; the bundled ones are kept.")
        lines.append(
            "Spot: the Price List has no SageMaker managed-spot price (spot jobs bill the "
            "on-demand rate for fewer billable seconds), so spot stays an estimate."
        )
        return "\n".join(lines)


_USAGE_TYPE = re.compile(r"^(?:[A-Z]{2,4}\d?-)?(Train|Host):(ml\.[a-z0-9-]+\.[a-z0-9]+)$")
_SERVERLESS_TYPE = re.compile(r"ServerlessInf[^:]*:Mem-(\d+(?:\.\d+)?)GB$")


def _on_demand_usd(item: Mapping[str, Any], units: Iterable[str]) -> float | None:
    """Return the first positive on-demand USD rate of a Price List item in ``units``."""
    wanted = {u.lower() for u in units}
    for term in (item.get("terms", {}).get("OnDemand") or {}).values():
        for dimension in (term.get("priceDimensions") or {}).values():
            if str(dimension.get("unit", "")).lower() not in wanted:
                continue
            if str(dimension.get("beginRange", "0")) not in ("0", "0.0"):
                continue
            try:
                usd = float(dimension["pricePerUnit"]["USD"])
            except (KeyError, TypeError, ValueError):
                continue
            if usd > 0 and math.isfinite(usd):
                return usd
    return None


def parse_price_item(raw: str | Mapping[str, Any], region: str) -> tuple[str, Any, float] | None:
    """Read one Price List entry; ``None`` for anything but an instance or serverless rate.

    Returns ``("instance", (type, usage), usd per hour)`` or ``("serverless", None, usd
    per GB-second)``.

    Only the plain ``Train:`` and ``Host:`` usage types count (``USE1-Train:ml.m5.large``;
    us-east-1 entries may come without the prefix); usage types with a suffix (notebooks,
    processing, Studio, savings plans...) and zero rates (free-tier lines) are ignored.
    An entry of another region than asked is ignored too.
    """
    item = json.loads(raw) if isinstance(raw, str) else raw
    attributes = (item.get("product") or {}).get("attributes") or {}
    if attributes.get("regionCode", region) != region:
        return None
    usage_type = str(attributes.get("usagetype", ""))
    match = _USAGE_TYPE.match(usage_type)
    if match:
        kind, instance_type = match.groups()
        named = attributes.get("instanceName") or attributes.get("instanceType")
        if named and str(named).lower() != instance_type:
            return None
        usd = _on_demand_usd(item, ("Hrs", "Hours", "Hour"))
        if usd is None:
            return None
        usage: Usage = "training" if kind == "Train" else "hosting"
        return ("instance", (instance_type, usage), usd)
    serverless = _SERVERLESS_TYPE.search(usage_type)
    if serverless:
        usd = _on_demand_usd(item, ("Second", "Seconds", "Sec"))
        gigabytes = float(serverless.group(1))
        if usd is None or gigabytes <= 0:
            return None
        return ("serverless", None, usd / gigabytes)
    return None


def _fetch_region(client: Any, region: str) -> list[Any]:
    """Return every AmazonSageMaker Price List item of ``region``, all pages."""
    items: list[Any] = []
    params: dict[str, Any] = {
        "ServiceCode": "AmazonSageMaker",
        "Filters": [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}],
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
    }
    while True:
        page = client.get_products(**params)
        items.extend(page.get("PriceList", []))
        token = page.get("NextToken")
        if not token:
            return items
        params["NextToken"] = token


def _pricing_client() -> Any:
    """Return a ``pricing`` client from a fresh boto3 session.

    Not ``boto3.client``: that reuses boto3's module-wide default session, whose
    credentials were resolved (and cached) by whoever used it first in this process.
    """
    try:
        import boto3
    except ImportError as exc:
        raise RefreshError("refresh needs boto3: pip install 'sm-magics[aws]'.") from exc
    return boto3.session.Session().client("pricing", region_name=PRICING_API_REGION)


def _explain(exc: BaseException) -> RefreshError | None:
    """Return a clear :class:`RefreshError` for a credentials or permission failure."""
    try:
        from botocore import exceptions as bx
    except ImportError:  # pragma: no cover - boto3 always brings botocore
        return None
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return RefreshError(
            "No AWS credentials found: the Price List API needs any AWS identity allowed "
            "pricing:GetProducts (aws configure, AWS_PROFILE, or an instance role). "
            "Nothing was changed."
        )
    if isinstance(exc, bx.ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        message = str(exc.response.get("Error", {}).get("Message", exc))
        if code in ("AccessDeniedException", "AccessDenied", "UnrecognizedClientException"):
            return RefreshError(
                f"AWS refused GetProducts ({message}): the identity needs the IAM permission "
                "pricing:GetProducts. Nothing was changed."
            )
        return RefreshError(f"The AWS Price List API failed: {code}: {message}. Nothing changed.")
    if isinstance(exc, bx.BotoCoreError):
        return RefreshError(f"Cannot reach the AWS Price List API ({exc}). Nothing was changed.")
    return None


def _write_atomically(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary file and one rename."""
    import tempfile  # only refresh writes; keep the kernel's import of this module cheap

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".prices-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=1)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def refresh(
    regions: Sequence[str] | None = None,
    output: Path | None = None,
    *,
    client: Any = None,
    today: str | None = None,
) -> RefreshReport:
    """Update the price file from the AWS Price List API.

    Every region is fetched before anything is written, so a failure half-way (no
    credentials, no permission, the network) changes nothing; the file is then replaced
    in one rename. Each figure read is recorded as measured, with the source
    :data:`REFRESH_SOURCE` and today's date; figures the API did not return are kept as
    they were, and the derivation rules fill the rest at lookup as before.

    Parameters
    ----------
    regions
        Region codes to fetch; default :data:`MAIN_REGIONS`.
    output
        The file to write; default the file lookups read (:func:`prices_path`). The
        current content of ``output`` (else of the bundled file) is the starting point.
    client
        A boto3 ``pricing`` client (tests pass a stubbed one); default one in us-east-1.
    today
        The date to record (default: today, UTC).

    Raises
    ------
    RefreshError
        Credentials or permission missing, the API failing, or no price at all returned.
    """
    import datetime as dt

    target = output or prices_path()
    source = target if target.exists() else BUNDLED_PRICES
    data = _read_data(source)
    date = today or dt.datetime.now(dt.timezone.utc).date().isoformat()
    wanted = list(regions or MAIN_REGIONS)
    api = client if client is not None else _pricing_client()
    fetched: dict[str, list[Any]] = {}
    for region in wanted:
        try:
            fetched[region] = _fetch_region(api, region)
        except Exception as exc:
            explained = _explain(exc)
            if explained is None:
                raise
            raise explained from exc
    report = RefreshReport(output=target)
    measured: dict[str, dict[str, dict[str, list[Any]]]] = data.setdefault("measured", {})
    for region, items in fetched.items():
        instances: dict[tuple[str, Usage], float] = {}
        serverless: list[float] = []
        for raw in items:
            parsed = parse_price_item(raw, region)
            if parsed is None:
                continue
            kind, key, usd = parsed
            if kind == "instance":
                instances[key] = usd
            else:
                serverless.append(usd)
        if not instances:
            report.skipped_regions.append(region)
            continue
        report.regions[region] = len(instances)
        for (instance_type, usage), usd in sorted(instances.items()):
            entries = measured.setdefault(usage, {}).setdefault(region, {})
            old = entries.get(instance_type)
            if old is None:
                report.added.append((instance_type, region, usage, usd))
            elif float(old[0]) != usd:
                report.changed.append((instance_type, region, usage, float(old[0]), usd))
            entries[instance_type] = [usd, REFRESH_SOURCE, date]
        if serverless:
            data.setdefault("serverless_per_gb_second", {})[region] = [
                min(serverless),
                REFRESH_SOURCE,
                date,
            ]
            report.serverless.append(region)
    if not report.regions:
        raise RefreshError(
            f"The AWS Price List API returned no SageMaker instance price for "
            f"{', '.join(wanted)}. Nothing was changed."
        )
    data.setdefault("sources", {})[REFRESH_SOURCE] = REFRESH_SOURCE_TEXT
    data["compiled"] = date
    for usage_table in measured.values():
        for region in list(usage_table):
            usage_table[region] = dict(sorted(usage_table[region].items()))
    _write_atomically(target, data)
    if target == prices_path():
        reload()
    return report


# -- command line ---------------------------------------------------------------------------


def _format_rate(usd_per_hour: float) -> str:
    """Show a rate as published: up to 4 decimals, at least 2 (``$0.7364``, ``$0.05``)."""
    whole, _, fraction = f"{usd_per_hour:,.4f}".partition(".")
    return f"${whole}.{fraction.rstrip('0').ljust(2, '0')}"


def _table_rows(regions: Sequence[str], usages: Sequence[Usage]) -> list[list[str]]:
    rows: list[list[str]] = []
    for usage in usages:
        for region in regions:
            for instance_type in known_instance_types(usage, region=region):
                found = price(instance_type, region, usage=usage)
                assert found is not None
                spot = "-" if found.spot_per_hour is None else _format_rate(found.spot_per_hour)
                rows.append(
                    [
                        instance_type,
                        region,
                        usage,
                        _format_rate(found.on_demand_per_hour),
                        spot,
                        found.source.split(":", 1)[0] if found.derived else "",
                    ]
                )
    return rows


def _refresh_main(argv: Sequence[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m sm_magics.pricing refresh",
        description="Update the SageMaker price table from the AWS Price List API.",
    )
    parser.add_argument(
        "--region",
        action="append",
        dest="regions",
        metavar="R",
        help=f"region to fetch (repeatable; default: {', '.join(MAIN_REGIONS)})",
    )
    parser.add_argument("--output", type=Path, help=f"file to write (default: {prices_path()})")
    args = parser.parse_args(list(argv))
    try:
        report = refresh(args.regions, args.output)
    except (RefreshError, OSError) as exc:
        print(f"refresh failed: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Print the price table, or ``refresh`` it; the entry point of ``python -m``."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] == ["refresh"]:
        return _refresh_main(args_in[1:])
    import argparse  # only the command line needs it; keep the kernel import cheap

    parser = argparse.ArgumentParser(
        prog="python -m sm_magics.pricing",
        description="SageMaker on-demand prices per instance-hour, with a spot estimate. "
        "'python -m sm_magics.pricing refresh --help' updates them from AWS.",
    )
    parser.add_argument(
        "--region",
        default=DEFAULT_REGION,
        help=f"region code, or 'all' (default: {DEFAULT_REGION})",
    )
    parser.add_argument(
        "--usage",
        choices=["training", "hosting", "all"],
        default="all",
        help="training jobs, real-time hosting, or both (default: all)",
    )
    parser.add_argument(
        "pattern",
        nargs="?",
        default="",
        help="only instance types containing this text, e.g. g5 or p4d",
    )
    args = parser.parse_args(args_in)
    regions = known_regions() if args.region == "all" else [_canonical_region(args.region)]
    usages: tuple[Usage, ...] = _USAGES if args.usage == "all" else (_check_usage(args.usage),)
    pattern = args.pattern.strip().lower()
    rows = [row for row in _table_rows(regions, usages) if pattern in row[0]]
    if not rows:
        print(f"no prices for {args.pattern or 'any type'} in {', '.join(regions)}")
        return 1
    header = ["instance type", "region", "usage", "on-demand/h", "spot est./h", "derived by"]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    right = {3, 4}
    for row in [header, *rows]:
        cells = [
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
    table = _table()
    print()
    print(
        f"Spot is an estimate: on-demand less {table.spot_discount:.0%} "
        "(SageMaker publishes no spot prices)."
    )
    print("'derived by': no figure found; filled by that rule (sm_magics.pricing docstring).")
    print(
        f"Compiled {table.compiled} ({prices_path()}). Check "
        "https://aws.amazon.com/sagemaker/pricing/ or run 'refresh'."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
