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

The package has one module per job: :mod:`.data` (the data model and reading the file),
:mod:`.rules` (the derivation rules above), :mod:`.lookups` (every question asked of the
table), :mod:`.price_list` (the refresh from the Price List API) and :mod:`.cli`.

Run ``python -m sm_magics.pricing`` to print the table, ``python -m sm_magics.pricing
refresh`` to update it (needs AWS credentials with ``pricing:GetProducts``).
"""

from __future__ import annotations

from sm_magics.pricing.cli import main
from sm_magics.pricing.data import (
    BUNDLED_PRICES,
    DEFAULT_REGION,
    ENV_PRICES,
    MAIN_REGIONS,
    PRICING_API_REGION,
    REFRESH_SOURCE,
    REFRESH_SOURCE_TEXT,
    SERVERLESS_IDLE_PER_HOUR,
    Price,
    ServerlessRate,
    Usage,
    prices_path,
)
from sm_magics.pricing.lookups import (
    _table,
    catalogue,
    cost_for,
    format_usd,
    hourly_cost,
    known_instance_types,
    known_regions,
    price,
    reload,
    serverless_cost,
    serverless_rate,
)
from sm_magics.pricing.price_list import RefreshError, RefreshReport, parse_price_item, refresh

__all__ = [
    "BUNDLED_PRICES",
    "DEFAULT_REGION",
    "ENV_PRICES",
    "MAIN_REGIONS",
    "PRICING_API_REGION",
    "REFRESH_SOURCE",
    "REFRESH_SOURCE_TEXT",
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
    "parse_price_item",
    "price",
    "prices_path",
    "refresh",
    "reload",
    "serverless_cost",
    "serverless_rate",
]


def __getattr__(name: str) -> str | float:
    """Return the module attributes that need the data file, reading it when asked."""
    if name == "PRICES_AS_OF":
        return _table().compiled
    if name == "PRICES_SOURCE":
        return "; ".join(_table().sources.values())
    if name == "DEFAULT_SPOT_DISCOUNT":
        return _table().spot_discount
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
