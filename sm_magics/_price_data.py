"""Published Amazon SageMaker on-demand prices, each with where and when it was read.

This module is data only; the lookup and the documented derivation rules that fill the
gaps live in :mod:`sm_magics.pricing`. Nothing here is derived: every figure below was
read from a source named in :data:`SOURCES` for exactly the instance type, region and
usage it is filed under. Figures are USD per instance-hour, Linux, on-demand.

No machine here can reach the AWS Price List API, so the figures were collected from
public material that quotes the SageMaker pricing page
(https://aws.amazon.com/sagemaker/pricing/), the Price List API (service code
``AmazonSageMaker``) or an AWS bill. Each block says which. Read on 2026-11-22.

Known gaps and choices, on purpose:

- ``ml.p4d.24xlarge`` and ``ml.p5.48xlarge`` were cut in price in 2025, alongside AWS's
  EC2 GPU price cut: the us-west-2 training rates read on 2026-09-12 (25.251 and 63.296)
  are a third and 44 % below the 37.688 and 113.068 that older copies such as FMBench
  still show. Those older figures are NOT used; the 2026 ones are the only current ones
  found.
- eu-west-1 figures come from one AWS bill of December 2023; the families it shows were
  not repriced since, as far as any later source shows.
- No published figure was found for ``ml.m6i.*``, ``ml.trn1.2xlarge``, most types in
  us-west-2 and eu-west-1, or any other region; those are derived by a documented rule
  (and flagged ``derived``) in :mod:`sm_magics.pricing`, or left out.
"""

from __future__ import annotations

from typing import Final, Literal

Usage = Literal["training", "hosting"]

#: Source key -> what it is, where it was read and the date of the figures.
SOURCES: Final[dict[str, str]] = {
    "price-list-api": (
        "AWS Price List API (service AmazonSageMaker), figures quoted with usage type and "
        "read date in public repositories: USE1-Host:ml.m5.xlarge 0.23 (2026-06-27), "
        "USE1-Train:ml.m5.large 0.115 (2026-08-11), USE1-Train:ml.g5.2xlarge 1.515 "
        "(2026-08-20), USE1-Host:ml.m5.2xlarge 0.461 (2026-09-28), us-west-2 training "
        "ml.p5.48xlarge 63.296, ml.p4d.24xlarge 25.251, ml.m5.12xlarge 2.765 (2026-09-12)"
    ),
    "pricing-page": (
        "aws.amazon.com/sagemaker/pricing, us-east-1, as reproduced in public repositories "
        "(goerlitz/nlp-classification notebooks/10kGNAD/sagemaker/README.md for ml.g4dn and "
        "ml.p3; several independent cost tables that agree to the digit for ml.m5, ml.c5, "
        "ml.r5 and ml.t3); copies dated 2023-2025"
    ),
    "fmbench": (
        "aws-samples/foundation-model-benchmarking-tool fmbench/configs/pricing.yml: the "
        "hourly rates AWS's own benchmarking tool charges for SageMaker real-time "
        "endpoints, us-east-1 (2024-2025)"
    ),
    "aws-bill-eu-west-1": (
        "aws-samples/sagemaker-ssh-helper Sample_Costs.md: the line items of an AWS bill "
        "for SageMaker in EU (Ireland), December 2023"
    ),
}

#: Published figures as (region, usage, source key, {instance type: USD per hour}).
PUBLISHED: Final[tuple[tuple[str, Usage, str, dict[str, float]], ...]] = (
    # --- us-east-1, training ------------------------------------------------------------
    (
        "us-east-1",
        "training",
        "price-list-api",
        {
            "ml.m5.large": 0.115,
            "ml.g5.2xlarge": 1.515,
        },
    ),
    (
        "us-east-1",
        "training",
        "pricing-page",
        {
            "ml.m5.xlarge": 0.23,
            "ml.m5.2xlarge": 0.461,
            "ml.m5.4xlarge": 0.922,
            "ml.m5.12xlarge": 2.765,
            "ml.m5.24xlarge": 5.53,
            "ml.c5.large": 0.102,
            "ml.c5.xlarge": 0.204,
            "ml.c5.2xlarge": 0.408,
            "ml.c5.4xlarge": 0.816,
            "ml.c5.9xlarge": 1.836,
            "ml.c5.18xlarge": 3.672,
            "ml.r5.large": 0.151,
            "ml.r5.xlarge": 0.302,
            "ml.g4dn.xlarge": 0.7364,
            "ml.g4dn.2xlarge": 0.94,
            "ml.g4dn.4xlarge": 1.505,
            "ml.g4dn.8xlarge": 2.72,
            "ml.g4dn.12xlarge": 4.89,
            "ml.g4dn.16xlarge": 5.44,
            "ml.p3.2xlarge": 3.825,
            "ml.p3.8xlarge": 14.688,
            "ml.p3.16xlarge": 28.152,
        },
    ),
    # --- us-east-1, hosting (real-time inference) -----------------------------------------
    (
        "us-east-1",
        "hosting",
        "price-list-api",
        {
            "ml.m5.xlarge": 0.23,
            "ml.m5.2xlarge": 0.461,
        },
    ),
    (
        "us-east-1",
        "hosting",
        "pricing-page",
        {
            "ml.t3.medium": 0.05,
            "ml.t3.large": 0.10,
            "ml.t3.xlarge": 0.20,
        },
    ),
    (
        "us-east-1",
        "hosting",
        "fmbench",
        {
            "ml.c5.xlarge": 0.204,
            "ml.c5.2xlarge": 0.408,
            "ml.c5.4xlarge": 0.816,
            "ml.g4dn.xlarge": 0.7364,
            "ml.g4dn.2xlarge": 0.94,
            "ml.g4dn.4xlarge": 1.505,
            "ml.g4dn.8xlarge": 2.72,
            "ml.g4dn.12xlarge": 4.89,
            "ml.g4dn.16xlarge": 5.44,
            "ml.g5.xlarge": 1.4084,
            "ml.g5.2xlarge": 1.515,
            "ml.g5.4xlarge": 2.03,
            "ml.g5.8xlarge": 3.06,
            "ml.g5.12xlarge": 7.09,
            "ml.g5.24xlarge": 10.18,
            "ml.g5.48xlarge": 20.36,
            "ml.p3.2xlarge": 3.825,
            "ml.inf2.xlarge": 0.99,
            "ml.trn1.32xlarge": 28.497,
        },
    ),
    # --- us-west-2, training ------------------------------------------------------------
    (
        "us-west-2",
        "training",
        "price-list-api",
        {
            "ml.m5.12xlarge": 2.765,
            "ml.p4d.24xlarge": 25.251,
            "ml.p5.48xlarge": 63.296,
        },
    ),
    # --- eu-west-1 (the bill rounds some rates to 3 digits: 0.822 / 0.821 are one rate) ----
    (
        "eu-west-1",
        "training",
        "aws-bill-eu-west-1",
        {
            "ml.m5.xlarge": 0.257,
            "ml.g4dn.xlarge": 0.822,
            "ml.g5.xlarge": 1.57,
            "ml.p3.2xlarge": 4.131,
        },
    ),
    (
        "eu-west-1",
        "hosting",
        "aws-bill-eu-west-1",
        {
            "ml.m5.xlarge": 0.257,
            "ml.g4dn.xlarge": 0.821,
            "ml.g4dn.4xlarge": 1.678,
            "ml.g4dn.12xlarge": 5.453,
            "ml.g5.12xlarge": 7.91,
        },
    ),
)

#: Families that SageMaker offers for hosting only (never a training instance type).
HOSTING_ONLY_FAMILIES: Final[frozenset[str]] = frozenset({"ml.t3", "ml.inf2"})

#: Regions whose SageMaker price lists match: the one pair published for both is equal
#: (ml.m5.12xlarge training 2.765), as are the EC2 on-demand rates of every family here.
#: Entries published for one are carried to the other, marked derived.
TWIN_REGIONS: Final[tuple[str, str]] = ("us-east-1", "us-west-2")

#: Sibling rule: target type <- (source type, factor), same region and usage.
#: ml.m6i is priced as ml.m5 of the same size: EC2 lists m6i and m5 at the same on-demand
#: rate in these regions (one unsourced table shows ml.m6i about 2 % lower: 0.113 / 0.226 /
#: 0.452 in us-east-1, so treat these as an upper-side estimate). ml.trn1.2xlarge has one
#: Trainium chip, ml.trn1.32xlarge sixteen, and EC2 prices trn1 exactly per chip
#: (1.34375 x 16 = 21.50).
SIBLINGS: Final[dict[str, tuple[str, float]]] = {
    "ml.m6i.large": ("ml.m5.large", 1.0),
    "ml.m6i.xlarge": ("ml.m5.xlarge", 1.0),
    "ml.m6i.2xlarge": ("ml.m5.2xlarge", 1.0),
    "ml.trn1.2xlarge": ("ml.trn1.32xlarge", 1.0 / 16.0),
}

#: Region-ratio rule: region -> (base region, {family: anchor instance type}). A family's
#: ratio is the published training price of its anchor in the region over the same in the
#: base region; other sizes of the family are the base price times that ratio. Measured
#: ratios (eu-west-1 / us-east-1): ml.m5 1.117, ml.g4dn 1.116, ml.g5 1.115, ml.p3 1.080.
#: Only families with a measured anchor are extended; eu-west-1 ml.c5, ml.r5, ml.t3,
#: ml.p4d, ml.p5, ml.trn1 and ml.inf2 stay unknown rather than guessed (ml.m6i follows
#: ml.m5 by the sibling rule, applied after this one).
REGION_RATIO_ANCHORS: Final[dict[str, tuple[str, dict[str, str]]]] = {
    "eu-west-1": (
        "us-east-1",
        {
            "ml.m5": "ml.m5.xlarge",
            "ml.g4dn": "ml.g4dn.xlarge",
            "ml.g5": "ml.g5.xlarge",
            "ml.p3": "ml.p3.2xlarge",
        },
    ),
}

#: Default spot discount used for the spot estimate (fraction off on-demand). SageMaker
#: publishes no spot price list: a managed spot training job is billed for
#: BillableTimeInSeconds, and the API docs define the saving as
#: (1 - BillableTimeInSeconds / TrainingTimeInSeconds). AWS advertises "up to 90%"; the
#: DescribeTrainingJob docs' worked example shows 80%; three ml.p5.48xlarge spot jobs
#: measured in a public repository (2026-09-13) saved 62-63%. 60% is the round figure
#: below all three, so the estimate errs towards too high rather than too low.
DEFAULT_SPOT_DISCOUNT: Final[float] = 0.60
