"""The command line: print the table, or ``refresh`` it (``python -m sm_magics.pricing``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from sm_magics.pricing.data import (
    _USAGES,
    DEFAULT_REGION,
    MAIN_REGIONS,
    Usage,
    prices_path,
)
from sm_magics.pricing.lookups import (
    _canonical_region,
    _check_usage,
    _table,
    known_instance_types,
    known_regions,
    price,
)
from sm_magics.pricing.price_list import (
    RefreshError,
    refresh,
)

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
