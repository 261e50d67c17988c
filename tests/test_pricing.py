"""Tests for sm_magics.pricing: the table, the derivation rules, the arithmetic, the display."""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest

from sm_magics import pricing
from sm_magics.pricing import (
    BUNDLED_PRICES,
    DEFAULT_REGION,
    Price,
    cost_for,
    format_usd,
    hourly_cost,
    known_instance_types,
    known_regions,
    price,
)

REGIONS = ("us-east-1", "us-west-2", "eu-west-1")

TRAINING_TYPES = [
    *(f"ml.m5.{s}" for s in ("large", "xlarge", "2xlarge", "4xlarge", "12xlarge", "24xlarge")),
    *(f"ml.m6i.{s}" for s in ("large", "xlarge", "2xlarge")),
    *(f"ml.c5.{s}" for s in ("large", "xlarge", "2xlarge", "4xlarge", "9xlarge", "18xlarge")),
    "ml.r5.large",
    "ml.r5.xlarge",
    *(f"ml.g4dn.{s}" for s in ("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge")),
    *(
        f"ml.g5.{s}"
        for s in ("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "24xlarge", "48xlarge")
    ),
    "ml.p3.2xlarge",
    "ml.p3.8xlarge",
    "ml.p3.16xlarge",
    "ml.p4d.24xlarge",
    "ml.p5.48xlarge",
    "ml.trn1.2xlarge",
    "ml.trn1.32xlarge",
]
HOSTING_ONLY_TYPES = ["ml.t3.medium", "ml.t3.large", "ml.t3.xlarge", "ml.inf2.xlarge"]
GPU_FAMILIES = ("ml.g4dn.", "ml.g5.", "ml.p3.", "ml.p4d.", "ml.p5.")


def all_prices() -> list[Price]:
    found = []
    for usage in ("training", "hosting"):
        for region in known_regions():
            for instance_type in known_instance_types(usage, region=region):
                p = price(instance_type, region, usage=usage)
                assert p is not None
                found.append(p)
    return found


# --- known figures ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instance_type", "region", "usage", "expected"),
    [
        # AWS Price List API, USE1-Train:ml.m5.large, read 2026-08-11
        ("ml.m5.large", "us-east-1", "training", 0.115),
        # AWS Price List API, USE1-Train:ml.g5.2xlarge, read 2026-08-20
        ("ml.g5.2xlarge", "us-east-1", "training", 1.515),
        # AWS bill, "$0.257 per Hosting ml.m5.xlarge hour in EU (Ireland)", 2023-12
        ("ml.m5.xlarge", "eu-west-1", "hosting", 0.257),
    ],
)
def test_known_published_prices_are_exact(instance_type, region, usage, expected):
    p = price(instance_type, region, usage=usage)
    assert p is not None
    assert p.on_demand_per_hour == expected
    assert (p.instance_type, p.region, p.usage, p.derived) == (instance_type, region, usage, False)


def test_every_published_figure_is_in_the_table_unchanged_and_not_derived():
    data = json.loads(BUNDLED_PRICES.read_text())
    for usage, regions in data["measured"].items():
        for region, entries in regions.items():
            for instance_type, (usd, source, as_of) in entries.items():
                assert source in data["sources"]
                p = price(instance_type, region, usage=usage)
                assert p is not None
                assert p.on_demand_per_hour == usd
                assert p.derived is False
                assert p.source == data["sources"][source]
                assert p.as_of == as_of


def test_source_and_date_are_recorded():
    assert "Price List API" in pricing.PRICES_SOURCE
    assert "aws.amazon.com/sagemaker/pricing" in pricing.PRICES_SOURCE
    assert dt.date.fromisoformat(pricing.PRICES_AS_OF) <= dt.date.today()
    assert DEFAULT_REGION == "us-east-1"


# --- coverage --------------------------------------------------------------------------


@pytest.mark.parametrize("region", ["us-east-1", "us-west-2"])
def test_all_common_types_are_covered_in_the_us_regions(region):
    for instance_type in TRAINING_TYPES:
        assert price(instance_type, region, usage="training") is not None, instance_type
        assert price(instance_type, region, usage="hosting") is not None, instance_type
    for instance_type in HOSTING_ONLY_TYPES:
        assert price(instance_type, region, usage="hosting") is not None, instance_type


def test_hosting_only_types_have_no_training_price():
    for instance_type in HOSTING_ONLY_TYPES:
        for region in REGIONS:
            assert price(instance_type, region, usage="training") is None
    assert "ml.t3.medium" not in known_instance_types("training")
    assert "ml.t3.medium" in known_instance_types("hosting")


def test_eu_west_1_uses_the_measured_family_ratio_where_there_is_one():
    g4dn = price("ml.g4dn.2xlarge", "eu-west-1")
    assert g4dn is not None
    assert g4dn.source.startswith("family-region-ratio")
    # no eu-west-1 anchor for ml.c5: the EC2 ratio (c5.large 0.096 / 0.085)
    c5 = price("ml.c5.xlarge", "eu-west-1")
    assert c5 is not None
    assert c5.source.startswith("ec2-region-ratio")
    assert c5.on_demand_per_hour == pytest.approx(0.204 * 0.096 / 0.085, abs=1e-4)


# --- sanity of every entry ---------------------------------------------------------------


def test_every_entry_is_positive_and_finite():
    entries = all_prices()
    assert len(entries) > 150
    for p in entries:
        assert math.isfinite(p.on_demand_per_hour)
        assert p.on_demand_per_hour > 0, p


def test_spot_is_an_estimate_below_on_demand_for_training_and_absent_for_hosting():
    for p in all_prices():
        if p.usage == "training":
            assert p.spot_per_hour is not None
            assert 0 < p.spot_per_hour < p.on_demand_per_hour, p
        else:
            assert p.spot_per_hour is None, p


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("usage", ["training", "hosting"])
def test_gpu_types_cost_more_than_the_smallest_cpu_type(region, usage):
    types = known_instance_types(usage, region=region)
    cpu = [t for t in types if not t.startswith(GPU_FAMILIES)]
    gpu = [t for t in types if t.startswith(GPU_FAMILIES)]
    assert cpu
    assert gpu

    def rate(t: str) -> float:
        p = price(t, region, usage=usage)
        assert p is not None
        return p.on_demand_per_hour

    cheapest_cpu = min(rate(t) for t in cpu)
    for t in gpu:
        assert rate(t) > cheapest_cpu, t


def test_prices_grow_with_size_within_a_family():
    for region in REGIONS:
        types = known_instance_types("training", region=region)
        for family in ("ml.m5.", "ml.c5.", "ml.g4dn.", "ml.p3."):
            rates = [
                price(t, region).on_demand_per_hour  # type: ignore[union-attr]
                for t in types
                if t.startswith(family)
            ]
            assert rates == sorted(rates), (region, family)


# --- derivation rules --------------------------------------------------------------------


def test_derived_entries_are_flagged_and_follow_their_rule():
    # us-west-2 carries us-east-1's published figure
    west = price("ml.c5.xlarge", "us-west-2")
    assert west is not None
    assert west.derived
    assert west.on_demand_per_hour == 0.204
    # and the other way round for the post-2025 GPU rates
    east_p5 = price("ml.p5.48xlarge", "us-east-1")
    assert east_p5 is not None
    assert east_p5.derived
    assert east_p5.on_demand_per_hour == 63.296
    assert east_p5.source.startswith("same-price-regions")
    # siblings
    m6i = price("ml.m6i.xlarge")
    assert m6i is not None
    assert m6i.derived
    assert m6i.on_demand_per_hour == 0.23
    trn = price("ml.trn1.2xlarge")
    assert trn is not None
    assert trn.derived
    assert trn.on_demand_per_hour == pytest.approx(28.497 / 16, abs=1e-4)
    # family region ratio, measured on ml.p3.2xlarge (4.131 / 3.825)
    p3 = price("ml.p3.8xlarge", "eu-west-1")
    assert p3 is not None
    assert p3.derived
    assert p3.on_demand_per_hour == pytest.approx(14.688 * 4.131 / 3.825, abs=1e-4)


def test_a_published_figure_is_never_overwritten_by_a_rule():
    # eu-west-1 g4dn.4xlarge hosting is on the bill (1.678); the ratio rule would give 1.680
    p = price("ml.g4dn.4xlarge", "eu-west-1", usage="hosting")
    assert p is not None
    assert (p.on_demand_per_hour, p.derived) == (1.678, False)


# --- lookups that find nothing -----------------------------------------------------------


@pytest.mark.parametrize("instance_type", ["ml.nope.xlarge", "local", "local_gpu", "", "ml."])
def test_unknown_type_gives_none_everywhere(instance_type):
    assert price(instance_type) is None
    assert hourly_cost(instance_type) is None
    assert cost_for(60, instance_type) is None


def test_unknown_region_gives_none():
    assert price("ml.m5.large", "mars-north-1") is None
    assert hourly_cost("ml.m5.large", region="mars-north-1") is None
    assert cost_for(60, "ml.m5.large", region="mars-north-1") is None


def test_region_none_means_default_region():
    assert price("ml.m5.large") == price("ml.m5.large", DEFAULT_REGION)
    p = price("ml.m5.large")
    assert p is not None
    assert p.region == DEFAULT_REGION


def test_names_are_normalised():
    expected = price("ml.g5.xlarge", "us-west-2")
    assert price(" ML.G5.XLARGE ", "US-WEST-2") == expected
    assert price("g5.xlarge", "us-west-2") == expected


def test_bad_usage_is_a_programming_error():
    with pytest.raises(ValueError, match="usage"):
        price("ml.m5.large", usage="serving")  # type: ignore[arg-type]


# --- arithmetic ----------------------------------------------------------------------------


def test_hourly_cost_scales_with_count_and_spot_uses_the_estimate():
    p = price("ml.g5.2xlarge")
    assert p is not None
    assert hourly_cost("ml.g5.2xlarge") == p.on_demand_per_hour
    assert hourly_cost("ml.g5.2xlarge", 4) == pytest.approx(4 * p.on_demand_per_hour)
    assert hourly_cost("ml.g5.2xlarge", 4, spot=True) == pytest.approx(4 * p.spot_per_hour)
    assert hourly_cost("ml.g5.2xlarge", 0) == 0
    assert hourly_cost("ml.g5.2xlarge", usage="hosting", spot=True) is None


@pytest.mark.parametrize("seconds", [1.0, 59.5, 3600.0, 86_400.0])
@pytest.mark.parametrize("count", [1, 2, 7])
def test_cost_for_is_linear_in_seconds_and_count(seconds, count):
    one = cost_for(seconds, "ml.m5.xlarge")
    assert one is not None
    assert cost_for(2 * seconds, "ml.m5.xlarge") == pytest.approx(2 * one)
    assert cost_for(seconds, "ml.m5.xlarge", count) == pytest.approx(count * one)
    assert one == pytest.approx(0.23 * seconds / 3600)


def test_cost_for_an_hour_is_the_hourly_rate():
    for spot in (False, True):
        assert cost_for(3600, "ml.p3.2xlarge", 2, "us-east-1", spot=spot) == pytest.approx(
            hourly_cost("ml.p3.2xlarge", 2, "us-east-1", spot=spot)
        )
    assert cost_for(0, "ml.p3.2xlarge") == 0
    assert cost_for(600, "ml.t3.medium", usage="hosting") == pytest.approx(0.05 / 6)


@pytest.mark.parametrize("seconds", [-1.0, math.nan, math.inf])
def test_cost_for_rejects_impossible_durations(seconds):
    with pytest.raises(ValueError, match="seconds"):
        cost_for(seconds, "ml.m5.large")


def test_negative_instance_count_is_rejected():
    with pytest.raises(ValueError, match="instance_count"):
        hourly_cost("ml.m5.large", -1)


# --- display ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (None, "n/a"),
        (math.nan, "n/a"),
        (0, "$0.00"),
        (0.0012, "$0.0012"),
        (0.00123, "$0.0012"),
        (0.000456, "$0.00046"),
        (0.012, "$0.012"),
        (0.05, "$0.05"),
        (0.0999, "$0.10"),
        (0.1, "$0.10"),
        (0.125, "$0.12"),
        (1.234, "$1.23"),
        (1.235001, "$1.24"),
        (12.5, "$12.50"),
        (1234.56, "$1,234.56"),
        (1234567.891, "$1,234,567.89"),
        (-2.5, "-$2.50"),
        (-0.0012, "-$0.0012"),
    ],
)
def test_format_usd(amount, expected):
    assert format_usd(amount) == expected


def test_format_usd_small_amounts_keep_two_significant_digits():
    for amount in (0.0123, 0.00987, 0.0000555):
        text = format_usd(amount).lstrip("$")
        digits = text.replace("0.", "", 1).lstrip("0")
        assert 1 <= len(digits) <= 2, text
        assert float(text) == pytest.approx(amount, rel=0.06)


# --- listing and the command line ----------------------------------------------------------


def test_known_instance_types_are_sorted_by_family_then_size():
    types = known_instance_types("training", region="us-east-1")
    m5 = [t for t in types if t.startswith("ml.m5.")]
    assert m5 == [
        f"ml.m5.{s}" for s in ("large", "xlarge", "2xlarge", "4xlarge", "12xlarge", "24xlarge")
    ]
    assert len(types) == len(set(types))
    assert set(known_instance_types("training")) >= set(types)


def test_known_regions():
    assert set(REGIONS) <= set(known_regions())


def test_main_prints_a_table(capsys):
    assert pricing.main(["--region", "all", "--usage", "training", "p5"]) == 0
    out = capsys.readouterr().out
    assert "ml.p5.48xlarge" in out
    assert "us-west-2" in out
    assert "$63.296" in out
    assert "same-price-regions" in out
    assert "spot" in out.lower()
    assert "ml.m5.large" not in out


def test_main_reports_nothing_found(capsys):
    assert pricing.main(["--region", "mars-north-1"]) == 1
    assert "no prices" in capsys.readouterr().out
