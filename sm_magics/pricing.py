"""What an Amazon SageMaker instance costs per hour, for training and for hosting.

Every job and endpoint shows its running cost, and a local job shows what it *would* cost
on SageMaker, so the package needs prices without a network call and without boto3: this
module is a table in memory, standard library only, built once at import (about 0.2 ms).

Where the numbers come from
---------------------------
On-demand USD per instance-hour (Linux), for ``training`` (training jobs) and ``hosting``
(real-time inference endpoints), in us-east-1, us-west-2 and eu-west-1. The published
figures and their sources are in :mod:`sm_magics._price_data`; in short (see
:data:`PRICES_SOURCE`):

- AWS Price List API figures quoted with usage type and read date in public repositories
  (2026-06-27 to 2026-09-28), e.g. ``USE1-Train:ml.m5.large`` 0.115, us-west-2 training
  ``ml.p5.48xlarge`` 63.296;
- the SageMaker pricing page (https://aws.amazon.com/sagemaker/pricing/) as reproduced in
  public repositories, and the endpoint rates in AWS's FMBench tool (us-east-1, 2023-2025);
- the line items of an AWS bill for EU (Ireland), December 2023.

The table was compiled on :data:`PRICES_AS_OF`. AWS changes prices (the 2025 cut took a
third off ml.p4d and 44% off ml.p5), so treat every figure as an estimate to be checked
against the pricing page before a large spend.

Derived entries
---------------
Where no figure was published for a type, region and usage, the table either leaves it
out (:func:`price` returns ``None``) or fills it by one of these rules, and the
:class:`Price` then says ``derived=True``:

1. *Same rate for training and hosting.* SageMaker charges one rate per instance type and
   region for both: all 15 pairs published for both usages agree (13 in us-east-1 across
   ml.m5, ml.c5, ml.g4dn, ml.g5 and ml.p3; ml.m5.xlarge and ml.g4dn.xlarge in eu-west-1,
   the latter up to the bill's rounding, 0.822 / 0.821). Not applied to training for
   hosting-only families (ml.t3, ml.inf2).
2. *us-east-1 and us-west-2 are priced alike*: the one pair published for both
   (ml.m5.12xlarge training, 2.765) agrees, as do EC2's rates for all these families.
3. *Family region ratio.* In eu-west-1, sizes of ml.m5, ml.g4dn, ml.g5 and ml.p3 are the
   us-east-1 price times the ratio measured on that family's published anchor. ml.c5,
   ml.r5, ml.t3, ml.p4d, ml.p5, ml.trn1 and ml.inf2 stay unknown in eu-west-1.
4. *Siblings*, in every region where the source type is priced: ml.m6i.* as ml.m5.* of the
   same size; ml.trn1.2xlarge as 1/16 of ml.trn1.32xlarge (one Trainium chip of sixteen).

Derived figures are rounded to 4 decimals.

Spot
----
SageMaker managed spot training has no price list: a spot job is billed for its
``BillableTimeInSeconds``, which is shorter than its training time by a discount that
varies by instance type, region and moment ("up to 90%"). ``spot_per_hour`` and
``spot=True`` therefore give an **estimate**, on-demand times ``1 - DEFAULT_SPOT_DISCOUNT``
(60% off; where that number comes from is documented at :data:`DEFAULT_SPOT_DISCOUNT`).
For a finished spot job the billed compute is exact:
``cost_for(BillableTimeInSeconds, instance_type, count, region)`` with ``spot=False``.
Hosting has no spot option, so a hosting price has ``spot_per_hour=None``.

Run ``python -m sm_magics.pricing`` to print the table.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sm_magics._price_data import (
    DEFAULT_SPOT_DISCOUNT,
    HOSTING_ONLY_FAMILIES,
    PUBLISHED,
    REGION_RATIO_ANCHORS,
    SIBLINGS,
    SOURCES,
    TWIN_REGIONS,
    Usage,
)

__all__ = [
    "DEFAULT_REGION",
    "DEFAULT_SPOT_DISCOUNT",
    "PRICES_AS_OF",
    "PRICES_SOURCE",
    "Price",
    "Usage",
    "cost_for",
    "format_usd",
    "hourly_cost",
    "known_instance_types",
    "known_regions",
    "main",
    "price",
]

#: Where the figures come from, with the dates of the figures themselves.
PRICES_SOURCE: Final[str] = "; ".join(SOURCES.values())

#: ISO date on which the table was compiled from the sources above.
PRICES_AS_OF: Final[str] = "2026-11-22"

#: Region used when a caller passes ``region=None``.
DEFAULT_REGION: Final = "us-east-1"

_USAGES: Final[tuple[Usage, ...]] = ("training", "hosting")
_DERIVED_DECIMALS: Final = 4
_SECONDS_PER_HOUR: Final = 3600.0
_SIZE_RE: Final = re.compile(r"^(\d*)xlarge$")
_NAMED_SIZES: Final[dict[str, float]] = {
    "nano": 0.125,
    "micro": 0.25,
    "small": 0.5,
    "medium": 0.75,
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
        ``True`` when no figure was published for this exact type, region and usage and
        the price was filled by one of the documented rules (see the module docstring).
    """

    instance_type: str
    region: str
    usage: Usage
    on_demand_per_hour: float
    spot_per_hour: float | None
    derived: bool


_Key = tuple[str, str, Usage]  # (instance type, region, usage)


def _family(instance_type: str) -> str:
    """Return ``"ml.g5"`` for ``"ml.g5.xlarge"``."""
    return instance_type.rsplit(".", 1)[0]


def _build_table() -> dict[_Key, tuple[float, bool]]:
    """Merge the published figures and apply the derivation rules, in a fixed order.

    Each rule only fills entries that are still missing, so a published figure always
    wins over a derived one, and an earlier rule over a later one.
    """
    table: dict[_Key, tuple[float, bool]] = {}
    for region, usage, _source, prices in PUBLISHED:
        for instance_type, usd in prices.items():
            table[(instance_type, region, usage)] = (usd, False)

    def fill(key: _Key, usd: float) -> None:
        if key not in table:
            table[key] = (round(usd, _DERIVED_DECIMALS), True)

    def same_rate_for_both_usages() -> None:
        for (instance_type, region, usage), (usd, _) in list(table.items()):
            other: Usage = "hosting" if usage == "training" else "training"
            if other == "training" and _family(instance_type) in HOSTING_ONLY_FAMILIES:
                continue
            fill((instance_type, region, other), usd)

    def twin_regions() -> None:
        first, second = TWIN_REGIONS
        for (instance_type, region, usage), (usd, _) in list(table.items()):
            if region in TWIN_REGIONS:
                twin = second if region == first else first
                fill((instance_type, twin, usage), usd)

    def siblings() -> None:
        for target, (source, factor) in SIBLINGS.items():
            for (instance_type, region, usage), (usd, _) in list(table.items()):
                if instance_type == source:
                    fill((target, region, usage), usd * factor)

    def family_region_ratios() -> None:
        for region, (base, anchors) in REGION_RATIO_ANCHORS.items():
            for family, anchor in anchors.items():
                here = table.get((anchor, region, "training"))
                there = table.get((anchor, base, "training"))
                if here is None or there is None:
                    continue
                ratio = here[0] / there[0]
                for (instance_type, from_region, usage), (usd, _) in list(table.items()):
                    if from_region == base and _family(instance_type) == family:
                        fill((instance_type, region, usage), usd * ratio)

    same_rate_for_both_usages()
    twin_regions()
    family_region_ratios()
    siblings()
    return table


_TABLE: Final[dict[_Key, tuple[float, bool]]] = _build_table()


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
    found = _TABLE.get((name, where, checked))
    if found is None:
        return None
    usd, derived = found
    spot = usd * (1.0 - DEFAULT_SPOT_DISCOUNT) if checked == "training" else None
    return Price(
        instance_type=name,
        region=where,
        usage=checked,
        on_demand_per_hour=usd,
        spot_per_hour=spot,
        derived=derived,
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
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"seconds must be a finite number >= 0, not {seconds!r}")
    per_hour = hourly_cost(instance_type, instance_count, region, usage=usage, spot=spot)
    if per_hour is None:
        return None
    return per_hour * seconds / _SECONDS_PER_HOUR


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
    size = instance_type.rsplit(".", 1)[-1]
    if size in _NAMED_SIZES:
        return _NAMED_SIZES[size]
    match = _SIZE_RE.match(size)
    if match:
        return 2.0 * float(match.group(1) or 1)
    return math.inf


def _sort_key(instance_type: str) -> tuple[str, float, str]:
    return (_family(instance_type), _size_rank(instance_type), instance_type)


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
        for (instance_type, in_region, in_usage) in _TABLE
        if in_usage == checked and (where is None or in_region == where)
    }
    return sorted(names, key=_sort_key)


def known_regions() -> list[str]:
    """List the region codes that have any price in the table."""
    return sorted({region for (_, region, _) in _TABLE})


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
                        "derived" if found.derived else "",
                    ]
                )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Print the price table; the entry point of ``python -m sm_magics.pricing``."""
    import argparse  # only the command line needs it; keep the kernel import cheap

    parser = argparse.ArgumentParser(
        prog="python -m sm_magics.pricing",
        description="SageMaker on-demand prices per instance-hour, with a spot estimate.",
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
    args = parser.parse_args(argv)
    regions = known_regions() if args.region == "all" else [_canonical_region(args.region)]
    usages: tuple[Usage, ...] = _USAGES if args.usage == "all" else (_check_usage(args.usage),)
    pattern = args.pattern.strip().lower()
    rows = [row for row in _table_rows(regions, usages) if pattern in row[0]]
    if not rows:
        print(f"no prices for {args.pattern or 'any type'} in {', '.join(regions)}")
        return 1
    header = ["instance type", "region", "usage", "on-demand/h", "spot est./h", ""]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    right = {3, 4}
    for row in [header, *rows]:
        cells = [
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
    print()
    print(
        f"Spot is an estimate: on-demand less {DEFAULT_SPOT_DISCOUNT:.0%} "
        "(SageMaker publishes no spot prices)."
    )
    print("'derived': no published figure; filled by a rule in sm_magics.pricing's docstring.")
    print(f"Compiled {PRICES_AS_OF}. Check https://aws.amazon.com/sagemaker/pricing/ .")
    return 0


if __name__ == "__main__":
    sys.exit(main())
