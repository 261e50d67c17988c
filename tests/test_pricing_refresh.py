"""``python -m sm_magics.pricing refresh``: the AWS Price List API under botocore's Stubber.

The Stubber validates every ``GetProducts`` request against the real ``pricing`` service
model and checks the exact parameters; the answers are Price List entries in the shape
the API returns them (JSON strings: ``product.attributes`` with ``usagetype``,
``terms.OnDemand.*.priceDimensions.*.pricePerUnit.USD``). Nothing talks to AWS.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sm_magics import pricing
from sm_magics.pricing import (
    BUNDLED_PRICES,
    REFRESH_SOURCE,
    RefreshError,
    parse_price_item,
    price_list,
    refresh,
)

TODAY = "2026-11-30"
LOCATIONS = {"us-east-1": "US East (N. Virginia)", "eu-central-1": "EU (Frankfurt)"}
PREFIX = {"us-east-1": "USE1", "eu-central-1": "EUC1"}


def item(
    usage_type: str,
    usd: str,
    *,
    region: str = "us-east-1",
    instance: str | None = None,
    component: str = "Training",
    unit: str = "Hrs",
    family: str = "ML Instance",
) -> str:
    """One Price List entry as the API returns it: a JSON string."""
    sku = f"SKU{abs(hash((usage_type, region))) % 10**10:010d}"
    attributes = {
        "regionCode": region,
        "servicecode": "AmazonSageMaker",
        "usagetype": usage_type,
        "locationType": "AWS Region",
        "location": LOCATIONS[region],
        "servicename": "Amazon SageMaker",
        "operation": "RunInstance",
        "component": component,
    }
    if instance:
        attributes["instanceName"] = instance
    term = f"{sku}.JRTCKXETXF"
    return json.dumps(
        {
            "product": {"productFamily": family, "attributes": attributes, "sku": sku},
            "serviceCode": "AmazonSageMaker",
            "terms": {
                "OnDemand": {
                    term: {
                        "priceDimensions": {
                            f"{term}.6YS6EN2CT7": {
                                "unit": unit,
                                "endRange": "Inf",
                                "description": f"${usd} per On Demand {component} {instance}",
                                "appliesTo": [],
                                "rateCode": f"{term}.6YS6EN2CT7",
                                "beginRange": "0",
                                "pricePerUnit": {"USD": usd},
                            }
                        },
                        "sku": sku,
                        "effectiveDate": "2026-11-01T00:00:00Z",
                        "offerTermCode": "JRTCKXETXF",
                        "termAttributes": {},
                    }
                }
            },
            "version": "20261101000000",
            "publicationDate": "2026-11-01T00:00:00Z",
        }
    )


def train(instance: str, usd: str, region: str = "us-east-1") -> str:
    return item(f"{PREFIX[region]}-Train:{instance}", usd, region=region, instance=instance)


def host(instance: str, usd: str, region: str = "us-east-1") -> str:
    return item(
        f"{PREFIX[region]}-Host:{instance}",
        usd,
        region=region,
        instance=instance,
        component="Hosting",
    )


def request(region: str, token: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "ServiceCode": "AmazonSageMaker",
        "Filters": [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}],
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
    }
    if token:
        params["NextToken"] = token
    return params


@pytest.fixture
def pricing_client(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """A real boto3 ``pricing`` client (fake credentials) wrapped in an active Stubber."""
    import boto3
    from botocore.stub import Stubber

    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    client = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("pricing")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture(autouse=True)
def bundled_table(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(pricing.ENV_PRICES, raising=False)
    pricing.reload()
    yield
    pricing.reload()


def test_refresh_reads_every_page_of_every_region_and_records_source_and_date(
    pricing_client, tmp_path, monkeypatch
):
    client, stubber = pricing_client
    stubber.add_response(
        "get_products",
        {
            "FormatVersion": "aws_v1",
            "PriceList": [
                train("ml.m5.large", "0.1150000000"),  # unchanged
                host("ml.m5.large", "0.1200000000"),  # changed (0.115 before)
                item("USE1-Notebk:ml.t3.medium", "0.0500000000", instance="ml.t3.medium"),
                item("USE1-Processing:ml.m5.large", "0.115", instance="ml.m5.large"),
                item(
                    "USE1-DebugRule:ml.m5.xlarge", "0.0000000000", instance="ml.m5.xlarge"
                ),  # free tier line
            ],
            "NextToken": "page-2",
        },
        request("us-east-1"),
    )
    stubber.add_response(
        "get_products",
        {
            "FormatVersion": "aws_v1",
            "PriceList": [
                train("ml.g6e.xlarge", "2.3350000000"),  # new type
                item(
                    "USE1-ServerlessInf:Mem-2GB",
                    "0.0000400000",
                    unit="Second",
                    component="Serverless",
                    family="ML Serverless",
                ),
            ],
        },
        request("us-east-1", "page-2"),
    )
    stubber.add_response(
        "get_products",
        {"FormatVersion": "aws_v1", "PriceList": [train("ml.m5.large", "0.138", "eu-central-1")]},
        request("eu-central-1"),
    )
    output = tmp_path / "prices.json"
    report = refresh(["us-east-1", "eu-central-1"], output, client=client, today=TODAY)

    assert report.regions == {"us-east-1": 3, "eu-central-1": 1}
    assert ("ml.m5.large", "us-east-1", "hosting", 0.115, 0.12) in report.changed
    assert ("ml.g6e.xlarge", "us-east-1", "training", 2.335) in report.added
    assert ("ml.m5.large", "eu-central-1", "training", 0.138) in report.added
    assert report.serverless == ["us-east-1"]
    summary = report.summary()
    assert "us-east-1: 3 instance prices" in summary
    assert "ml.m5.large us-east-1 hosting: 0.115 -> 0.12" in summary
    assert "spot stays an estimate" in summary

    data = json.loads(output.read_text())
    assert data["compiled"] == TODAY
    assert data["measured"]["training"]["us-east-1"]["ml.g6e.xlarge"] == [
        2.335,
        REFRESH_SOURCE,
        TODAY,
    ]
    assert data["serverless_per_gb_second"]["us-east-1"] == [0.00002, REFRESH_SOURCE, TODAY]
    assert "Price List API" in data["sources"][REFRESH_SOURCE]
    # figures the API did not return are kept as they were
    assert data["measured"]["training"]["us-east-1"]["ml.p3.2xlarge"][1] == "pricing-page"

    monkeypatch.setenv(pricing.ENV_PRICES, str(output))
    pricing.reload()
    refreshed = pricing.price("ml.m5.large", "eu-central-1")
    assert refreshed is not None
    assert (refreshed.on_demand_per_hour, refreshed.derived, refreshed.as_of) == (
        0.138,
        False,
        TODAY,
    )
    assert "AWS Price List API" in refreshed.source
    # the bundled file is untouched
    assert json.loads(BUNDLED_PRICES.read_text())["compiled"] != TODAY


@pytest.mark.parametrize(
    ("usage_type", "instance", "expected"),
    [
        ("USE1-Train:ml.m5.large", "ml.m5.large", ("instance", ("ml.m5.large", "training"))),
        ("Host:ml.g5.xlarge", "ml.g5.xlarge", ("instance", ("ml.g5.xlarge", "hosting"))),
        ("EUC1-Host:ml.p4d.24xlarge", None, ("instance", ("ml.p4d.24xlarge", "hosting"))),
        ("USE1-Notebk:ml.t3.medium", "ml.t3.medium", None),
        ("USE1-Studio:JupyterLab-ml.t3.medium", "ml.t3.medium", None),
        ("USE1-Train:ml.m5.large-Spot", "ml.m5.large", None),
        ("USE1-Host:ml.m5.large", "ml.m5.xlarge", None),  # attributes disagree: skip it
        ("USE1-Train-Storage", None, None),
    ],
)
def test_only_plain_train_and_host_usage_types_are_read(usage_type, instance, expected):
    parsed = parse_price_item(item(usage_type, "1.5", instance=instance), "us-east-1")
    if expected is None:
        assert parsed is None
    else:
        assert parsed == (*expected, 1.5)


def test_an_entry_of_another_region_or_without_an_hourly_rate_is_ignored():
    assert parse_price_item(train("ml.m5.large", "0.138", "eu-central-1"), "us-east-1") is None
    weekly = item("USE1-Train:ml.m5.large", "1.0", instance="ml.m5.large", unit="Week")
    assert parse_price_item(weekly, "us-east-1") is None


def test_missing_credentials_say_so_and_write_nothing(tmp_path, monkeypatch, capsys):
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ENDPOINT_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    output = tmp_path / "out" / "prices.json"
    before = BUNDLED_PRICES.read_bytes()

    assert pricing.main(["refresh", "--region", "us-east-1", "--output", str(output)]) == 1

    err = capsys.readouterr().err
    assert "No AWS credentials" in err
    assert "Nothing was changed" in err
    assert not output.exists()
    assert BUNDLED_PRICES.read_bytes() == before


def test_access_denied_on_a_later_region_writes_nothing(pricing_client, tmp_path):
    client, stubber = pricing_client
    stubber.add_response(
        "get_products",
        {"FormatVersion": "aws_v1", "PriceList": [train("ml.m5.large", "0.2")]},
        request("us-east-1"),
    )
    stubber.add_client_error(
        "get_products",
        service_error_code="AccessDeniedException",
        service_message="User is not authorized to perform: pricing:GetProducts",
        http_status_code=400,
        expected_params=request("eu-central-1"),
    )
    output = tmp_path / "prices.json"
    output.write_text(BUNDLED_PRICES.read_text())
    before = output.read_bytes()
    with pytest.raises(RefreshError, match=r"pricing:GetProducts.*Nothing was changed"):
        refresh(["us-east-1", "eu-central-1"], output, client=client, today=TODAY)
    assert output.read_bytes() == before


def test_no_price_at_all_is_an_error_and_a_region_without_prices_is_kept(pricing_client, tmp_path):
    client, stubber = pricing_client
    stubber.add_response("get_products", {"PriceList": []}, request("eu-central-1"))
    output = tmp_path / "prices.json"
    with pytest.raises(RefreshError, match="no SageMaker instance price"):
        refresh(["eu-central-1"], output, client=client, today=TODAY)
    assert not output.exists()

    stubber.add_response(
        "get_products", {"PriceList": [train("ml.m5.large", "0.115")]}, request("us-east-1")
    )
    stubber.add_response("get_products", {"PriceList": []}, request("eu-central-1"))
    report = refresh(["us-east-1", "eu-central-1"], output, client=client, today=TODAY)
    assert report.skipped_regions == ["eu-central-1"]
    assert "eu-central-1: no SageMaker instance prices returned" in report.summary()
    assert "Serverless rates: none" in report.summary()


def test_the_write_is_atomic(pricing_client, tmp_path, monkeypatch):
    client, stubber = pricing_client
    stubber.add_response(
        "get_products", {"PriceList": [train("ml.m5.large", "0.3")]}, request("us-east-1")
    )
    output = tmp_path / "prices.json"
    output.write_text(BUNDLED_PRICES.read_text())
    before = output.read_bytes()

    def broken_dump(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(price_list.json, "dump", broken_dump)
    with pytest.raises(OSError, match="disk full"):
        refresh(["us-east-1"], output, client=client, today=TODAY)
    assert output.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["prices.json"]


def test_the_command_line_prints_the_summary(pricing_client, tmp_path, monkeypatch, capsys):
    client, stubber = pricing_client
    stubber.add_response(
        "get_products", {"PriceList": [host("ml.m5.xlarge", "0.25")]}, request("us-east-1")
    )
    monkeypatch.setattr(price_list, "_pricing_client", lambda: client)
    output = tmp_path / "prices.json"
    code = pricing.main(["refresh", "--region", "us-east-1", "--output", str(output)])
    out = capsys.readouterr().out
    assert code == 0
    assert f"Wrote {output}" in out
    assert "ml.m5.xlarge us-east-1 hosting: 0.23 -> 0.25" in out
    assert output.exists()
