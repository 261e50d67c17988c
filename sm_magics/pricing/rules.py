"""The derivation rules that fill the gaps of the measured prices, in their documented order.

See the package docstring (:mod:`sm_magics.pricing`) for each rule and why it holds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from sm_magics.pricing.data import (
    _USAGES,
    DEFAULT_REGION,
    MAIN_REGIONS,
    Figure,
    PriceFile,
    Usage,
    _Entry,
    _family,
    _Key,
    _size_units,
    _Table,
)


def _build(data: PriceFile) -> _Table:
    """Merge the measured figures and apply the derivation rules, in the documented order."""
    rules = data["rules"]
    sources: dict[str, str] = dict(data.get("sources", {}))
    decimals = int(rules.get("derived_decimals", 4))
    hosting_only = frozenset(rules.get("hosting_only_families", ()))
    prices: dict[_Key, _Entry] = {}
    for usage in _USAGES:
        for region, entries in data["measured"].get(usage, {}).items():
            for instance_type, (usd, source, as_of) in entries.items():
                prices[(instance_type, region, usage)] = _Entry(
                    float(usd), False, str(source), str(as_of)
                )

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
    measured: Mapping[str, Figure],
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
