"""Refreshing the table from the AWS Price List API (``python -m sm_magics.pricing refresh``)."""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, TypeAlias, TypedDict

from sm_magics.pricing.data import (
    BUNDLED_PRICES,
    MAIN_REGIONS,
    PRICING_API_REGION,
    REFRESH_SOURCE,
    REFRESH_SOURCE_TEXT,
    Figure,
    PriceFile,
    Usage,
    _read_data,
    prices_path,
)
from sm_magics.pricing.lookups import (
    reload,
)

if TYPE_CHECKING:
    from typing import Unpack

    from sm_magics.json_types import JsonValue

# -- refresh from the AWS Price List API ----------------------------------------------------

#: What :func:`parse_price_item` reads of one entry: an instance's hourly rate, or a
#: serverless rate per GB-second.
PriceItem: TypeAlias = (
    tuple[Literal["instance"], tuple[str, Usage], float] | tuple[Literal["serverless"], None, float]
)


class ProductsRequest(TypedDict, total=False):
    """The parameters of ``GetProducts`` that refresh sends."""

    ServiceCode: str
    Filters: list[dict[str, str]]
    FormatVersion: str
    MaxResults: int
    NextToken: str


class ProductsPage(TypedDict, total=False):
    """One page of ``GetProducts``: each entry a JSON document, as a string."""

    PriceList: list[str]
    NextToken: str


class PricingClient(Protocol):
    """What refresh calls of a boto3 ``pricing`` client."""

    def get_products(self, **params: Unpack[ProductsRequest]) -> ProductsPage:
        """One page of the Price List's products (``GetProducts``)."""


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


def _members(value: JsonValue) -> Mapping[str, JsonValue]:
    """Return ``value`` if it is a JSON object, else an empty one.

    A Price List entry is a deep document the API may change: each level is read as
    "an object, or nothing", so an unexpected shape skips the entry instead of failing.
    """
    return value if isinstance(value, dict) else {}


def _on_demand_usd(item: Mapping[str, JsonValue], units: Iterable[str]) -> float | None:
    """Return the first positive on-demand USD rate of a Price List item in ``units``."""
    wanted = {u.lower() for u in units}
    for term in _members(_members(item.get("terms")).get("OnDemand")).values():
        for dimension in _members(_members(term).get("priceDimensions")).values():
            part = _members(dimension)
            if str(part.get("unit", "")).lower() not in wanted:
                continue
            if str(part.get("beginRange", "0")) not in ("0", "0.0"):
                continue
            price = _members(part.get("pricePerUnit")).get("USD")
            if not isinstance(price, str | int | float):
                continue
            try:
                usd = float(price)
            except ValueError:
                continue
            if usd > 0 and math.isfinite(usd):
                return usd
    return None


def parse_price_item(raw: str | Mapping[str, JsonValue], region: str) -> PriceItem | None:
    """Read one Price List entry; ``None`` for anything but an instance or serverless rate.

    Returns ``("instance", (type, usage), usd per hour)`` or ``("serverless", None, usd
    per GB-second)``.

    Only the plain ``Train:`` and ``Host:`` usage types count (``USE1-Train:ml.m5.large``;
    us-east-1 entries may come without the prefix); usage types with a suffix (notebooks,
    processing, Studio, savings plans...) and zero rates (free-tier lines) are ignored.
    An entry of another region than asked is ignored too.
    """
    item = _members(json.loads(raw)) if isinstance(raw, str) else raw
    attributes = _members(_members(item.get("product")).get("attributes"))
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


def _fetch_region(client: PricingClient, region: str) -> list[str]:
    """Return every AmazonSageMaker Price List item of ``region``, all pages."""
    items: list[str] = []
    params: ProductsRequest = {
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


def _pricing_client() -> PricingClient:
    """Return a ``pricing`` client from a fresh boto3 session.

    Not ``boto3.client``: that reuses boto3's module-wide default session, whose
    credentials were resolved (and cached) by whoever used it first in this process.
    """
    try:
        import boto3
    except ImportError as exc:
        raise RefreshError("refresh needs boto3: pip install 'sm-magics[aws]'.") from exc
    client: PricingClient = boto3.session.Session().client(
        "pricing", region_name=PRICING_API_REGION
    )
    return client


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


def _write_atomically(path: Path, data: PriceFile) -> None:
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
    client: PricingClient | None = None,
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
    fetched: dict[str, list[str]] = {}
    for region in wanted:
        try:
            fetched[region] = _fetch_region(api, region)
        except Exception as exc:
            explained = _explain(exc)
            if explained is None:
                raise
            raise explained from exc
    report = RefreshReport(output=target)
    measured = data.setdefault("measured", {})
    for region, items in fetched.items():
        instances: dict[tuple[str, Usage], float] = {}
        serverless: list[float] = []
        for raw in items:
            parsed = parse_price_item(raw, region)
            if parsed is None:
                continue
            if parsed[0] == "instance":
                instances[parsed[1]] = parsed[2]
            else:
                serverless.append(parsed[2])
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
            figure: Figure = [usd, REFRESH_SOURCE, date]
            entries[instance_type] = figure
        if serverless:
            rate: Figure = [min(serverless), REFRESH_SOURCE, date]
            data.setdefault("serverless_per_gb_second", {})[region] = rate
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
