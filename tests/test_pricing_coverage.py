"""Coverage of the price table (every catalogue type, every main region, both usages),
honesty of derived figures, serverless arithmetic, and the lazy load of the data file."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import textwrap
from collections import Counter

import pytest

from sm_magics import pricing
from sm_magics.pricing import (
    BUNDLED_PRICES,
    MAIN_REGIONS,
    SERVERLESS_IDLE_PER_HOUR,
    catalogue,
    price,
    serverless_cost,
    serverless_rate,
)

RULES = (
    "same-rate-both-usages",
    "same-price-regions",
    "sibling",
    "size-linear",
    "family-region-ratio",
    "ec2-region-ratio",
)
DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


@pytest.fixture(autouse=True)
def bundled_table(monkeypatch):
    """Every test reads the bundled file, whatever the environment says."""
    monkeypatch.delenv(pricing.ENV_PRICES, raising=False)
    pricing.reload()
    yield
    pricing.reload()


@pytest.mark.parametrize("usage", ["training", "hosting"])
@pytest.mark.parametrize("region", MAIN_REGIONS)
def test_every_catalogue_type_has_a_price_in_every_main_region(region, usage):
    types = catalogue(usage)
    assert len(types) >= (65 if usage == "training" else 75)
    missing = [t for t in types if price(t, region, usage=usage) is None]
    assert missing == []


def test_hosting_only_families_are_not_in_the_training_catalogue():
    assert "ml.t3.medium" in catalogue("hosting")
    assert "ml.inf2.xlarge" in catalogue("hosting")
    assert not [t for t in catalogue("training") if t.startswith(("ml.t3.", "ml.inf2."))]


def test_coverage_counts_measured_and_derived():
    entries = [
        price(t, r, usage=u)
        for u in ("training", "hosting")
        for r in MAIN_REGIONS
        for t in catalogue(u)
    ]
    found = [p for p in entries if p is not None]
    assert len(found) == len(entries)
    measured = [p for p in found if not p.derived]
    assert len(measured) >= 70
    assert len(found) >= 1200
    by_rule = Counter(p.source.split(":", 1)[0] for p in found if p.derived)
    assert set(by_rule) <= set(RULES)


def test_every_price_has_a_source_and_a_date_and_derived_ones_name_their_rule():
    for usage in ("training", "hosting"):
        for region in MAIN_REGIONS:
            for instance_type in catalogue(usage):
                p = price(instance_type, region, usage=usage)
                assert p is not None
                assert p.source, p
                assert DATE.match(p.as_of), p
                assert math.isfinite(p.on_demand_per_hour)
                assert p.on_demand_per_hour > 0
                if p.derived:
                    assert p.source.split(":", 1)[0] in RULES, p
                else:
                    assert not p.source.startswith(RULES), p


def test_measured_figures_are_only_those_in_the_file():
    data = json.loads(BUNDLED_PRICES.read_text())
    measured = {
        (t, r, u)
        for u, regions in data["measured"].items()
        for r, entries in regions.items()
        for t in entries
    }
    for usage in ("training", "hosting"):
        for region in MAIN_REGIONS:
            for instance_type in catalogue(usage):
                p = price(instance_type, region, usage=usage)
                assert p is not None
                assert p.derived == ((instance_type, region, usage) not in measured)


def test_the_us_regions_share_one_price_list():
    for usage in ("training", "hosting"):
        for instance_type in catalogue(usage):
            east = price(instance_type, "us-east-1", usage=usage)
            assert east is not None
            for twin in ("us-east-2", "us-west-2"):
                other = price(instance_type, twin, usage=usage)
                assert other is not None
                assert other.on_demand_per_hour == east.on_demand_per_hour, (instance_type, twin)


@pytest.mark.parametrize("region", ["eu-central-1", "ap-northeast-1", "ap-southeast-1"])
def test_other_regions_cost_more_than_us_east_1_by_their_ec2_ratio(region):
    east = price("ml.m5.xlarge", "us-east-1")
    there = price("ml.m5.xlarge", region)
    assert east is not None
    assert there is not None
    assert there.derived
    assert there.source.startswith("ec2-region-ratio")
    assert 1.0 < there.on_demand_per_hour / east.on_demand_per_hour < 1.4


def test_size_linear_rule_matches_the_published_cpu_sizes():
    # ml.m5 sizes were published one by one; per large unit they agree to 0.1 cent
    units = {"large": 1, "xlarge": 2, "2xlarge": 4, "4xlarge": 8, "12xlarge": 24, "24xlarge": 48}
    per_unit = {
        size: price(f"ml.m5.{size}").on_demand_per_hour / n  # type: ignore[union-attr]
        for size, n in units.items()
    }
    assert max(per_unit.values()) - min(per_unit.values()) < 0.001
    derived = price("ml.m6i.8xlarge")
    assert derived is not None
    assert derived.source.startswith("size-linear")
    assert derived.on_demand_per_hour == pytest.approx(0.115 * 16, abs=0.01)


def test_spot_stays_an_estimate():
    p = price("ml.g5.xlarge", "eu-central-1")
    assert p is not None
    assert p.spot_per_hour == pytest.approx(p.on_demand_per_hour * (1 - 0.6))
    assert pricing.DEFAULT_SPOT_DISCOUNT == 0.6


# -- serverless --------------------------------------------------------------------------------


def test_serverless_rate_is_per_gb_second_with_source_and_date():
    rate = serverless_rate("us-east-1")
    assert rate is not None
    assert rate.per_gb_second == 0.00002
    assert rate.per_gb_data == 0.016
    assert not rate.derived
    assert "Serverless" in rate.source
    assert DATE.match(rate.as_of)
    for region in MAIN_REGIONS:
        assert serverless_rate(region) is not None, region
    assert serverless_rate("us-west-2").derived  # type: ignore[union-attr]
    assert serverless_rate("mars-north-1") is None


def test_serverless_cost_is_memory_times_duration_plus_data():
    # 2 GB for 1000 s of compute: 2 * 1000 * 0.00002 = 0.04
    assert serverless_cost(2048, 1000) == pytest.approx(0.04)
    assert serverless_cost(1024, 1000) == pytest.approx(0.02)
    assert serverless_cost(6144, 3600) == pytest.approx(6 * 3600 * 0.00002)
    # no per-request fee: requests alone cost nothing
    assert serverless_cost(4096, 0, requests=1_000_000) == 0
    assert serverless_cost(1024, 10, requests=5) == serverless_cost(1024, 10)
    assert serverless_cost(1024, 0, data_gb=2.0) == pytest.approx(0.032)
    assert serverless_cost(1024, 10, region="mars-north-1") is None
    assert SERVERLESS_IDLE_PER_HOUR == 0


def test_serverless_cost_scales_with_the_regional_rate():
    east = serverless_cost(3072, 100, region="us-east-1")
    tokyo = serverless_cost(3072, 100, region="ap-northeast-1")
    assert east is not None
    assert tokyo is not None
    assert tokyo > east


@pytest.mark.parametrize(
    "kwargs",
    [
        {"memory_mb": 0, "seconds_of_compute": 1},
        {"memory_mb": 1024, "seconds_of_compute": -1},
        {"memory_mb": 1024, "seconds_of_compute": math.inf},
        {"memory_mb": 1024, "seconds_of_compute": 1, "requests": -1},
        {"memory_mb": 1024, "seconds_of_compute": 1, "data_gb": math.nan},
    ],
)
def test_serverless_cost_rejects_impossible_inputs(kwargs):
    with pytest.raises(ValueError):
        serverless_cost(**kwargs)


# -- the data file -----------------------------------------------------------------------------


def test_importing_pricing_or_loading_the_extension_does_not_read_the_price_file(sm_home):
    code = textwrap.dedent(
        """
        import json, sys
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        shell.run_line_magic("load_ext", "sm_magics")
        import sm_magics.pricing as pricing
        from sm_magics.pricing import lookups
        before = lookups._TABLE is None
        pricing.price("ml.m5.large")
        print(json.dumps({"before": before, "after": lookups._TABLE is not None}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"before": True, "after": True}


def test_sm_magics_prices_points_lookups_at_another_file(tmp_path, monkeypatch):
    data = json.loads(BUNDLED_PRICES.read_text())
    data["measured"]["training"]["us-east-1"]["ml.m5.large"] = [9.99, "pricing-page", "2026-01"]
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(data))
    monkeypatch.setenv(pricing.ENV_PRICES, str(path))
    pricing.reload()
    p = price("ml.m5.large")
    assert p is not None
    assert p.on_demand_per_hour == 9.99
    assert p.as_of == "2026-01"


def test_a_file_of_another_format_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"format": 99}))
    monkeypatch.setenv(pricing.ENV_PRICES, str(path))
    pricing.reload()
    with pytest.raises(ValueError, match="format"):
        price("ml.m5.large")
