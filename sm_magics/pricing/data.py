"""The price table's data model: constants, :class:`Price`, and reading the data file.

The figures themselves are ``sm_magics/prices.json`` (pure data); :mod:`.rules` derives the
missing ones and :mod:`.lookups` answers questions about the result.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, TypeAlias, TypedDict

Usage = Literal["training", "hosting"]

#: One figure as the file keeps it: ``[USD, source key, as of]``.
Figure: TypeAlias = list[float | str]


class PriceRules(TypedDict, total=False):
    """The file's ``rules``: the inputs of the derivation rules (:mod:`.rules`)."""

    hosting_only_families: list[str]
    same_price_regions: list[list[str]]
    siblings: dict[str, list[str | float]]  # type -> [its sibling, factor]
    size_linear_families: list[str]
    region_base: str
    family_region_anchors: dict[str, dict[str, str]]  # region -> family -> anchor type
    ec2_anchor: dict[str, str]  # family -> EC2 type
    ec2_fallback_anchor: dict[str, str]  # "cpu" | "accelerated" -> EC2 type
    accelerated_families: list[str]
    ec2_rates: dict[str, dict[str, float]]  # EC2 type -> region -> USD/hour
    derived_decimals: int


class PriceFile(TypedDict, total=False):
    """``prices.json`` (format 1): measured figures, their sources, and the rules."""

    format: int
    compiled: str  # the date of the newest figure's compilation
    currency: str
    main_regions: list[str]
    sources: dict[str, str]  # source key -> where the figures come from
    measured: dict[str, dict[str, dict[str, Figure]]]  # usage -> region -> type -> figure
    serverless_per_gb_second: dict[str, Figure]  # region -> figure
    serverless_data_per_gb: dict[str, Figure]
    catalogue: dict[str, list[str]]  # family -> sizes
    rules: PriceRules
    spot_discount: float


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
BUNDLED_PRICES: Final = Path(__file__).resolve().parent.parent / "prices.json"
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


def _read_data(path: Path) -> PriceFile:
    with open(path, encoding="utf-8") as handle:
        raw = json.load(handle)
    data: PriceFile = raw  # once checked below: the format is the promise of the shape
    if not isinstance(raw, dict) or raw.get("format") != 1:
        raise ValueError(f"{path} is not an sm-magics price file (format 1)")
    return data
