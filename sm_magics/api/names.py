"""Names of jobs and endpoints: SageMaker's rule, and the names generated when none is given.

Every job kind (training, transform, endpoint, and the kinds still to come) names its
resources through these two functions, so one rule holds for all of them.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from sm_magics.errors import InvalidRequest

#: SageMaker's rule for training job names.
JOB_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
DEFAULT_JOB_PREFIX = "sm-train"
DEFAULT_ENTRY_POINT = "train.py"
#: The entry-point name the cell gets; also the module `%sm_deploy` finds handlers in.
CELL_ENTRY_POINT = DEFAULT_ENTRY_POINT


def validate_job_name(name: str) -> str:
    """Return ``name`` if SageMaker would accept it as a job name, else raise."""
    # The pattern bounds the letters and digits, not the hyphens: SageMaker also caps the
    # length at 63 characters.
    if len(name) > 63 or not JOB_NAME_RE.fullmatch(name):
        raise InvalidRequest(
            f"Invalid job name {name!r}: use 1-63 letters, digits and hyphens, starting with "
            "a letter or digit (SageMaker's rule)."
        )
    return name


def generate_job_name(prefix: str = DEFAULT_JOB_PREFIX, now: datetime | None = None) -> str:
    """Return ``<prefix>-YYYY-MM-DD-HH-MM-SS-mmm``, as the SageMaker SDK names jobs."""
    moment = now or datetime.now(tz=timezone.utc)
    stamp = moment.strftime("%Y-%m-%d-%H-%M-%S-") + f"{moment.microsecond // 1000:03d}"
    prefix = prefix.strip("-")[: 63 - len(stamp) - 1] or DEFAULT_JOB_PREFIX
    return validate_job_name(f"{prefix}-{stamp}")
