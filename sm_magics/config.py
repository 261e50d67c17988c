"""Defaults shared by the kernel, the job supervisors and the Jupyter server extension.

The traitlets configuration users see (``%config SageMakerMagics.backend = ...``) lives in
:mod:`sm_magics.magics`; this module only answers the questions every process needs
answered the same way, without importing IPython: where the home folder is and what the
``SM_MAGICS_*`` environment variables say.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variables, one per setting that CI or a terminal may want to pin.
ENV_HOME = "SM_MAGICS_HOME"
ENV_BACKEND = "SM_MAGICS_BACKEND"
ENV_ROLE = "SM_MAGICS_ROLE"
ENV_BUCKET = "SM_MAGICS_BUCKET"
ENV_REGION = "SM_MAGICS_REGION"
ENV_INSTANCE_TYPE = "SM_MAGICS_INSTANCE_TYPE"
ENV_MAX_LOCAL_JOBS = "SM_MAGICS_MAX_LOCAL_JOBS"
ENV_MAX_HOURLY_COST = "SM_MAGICS_MAX_HOURLY_COST"
ENV_DEFAULT_TTL = "SM_MAGICS_DEFAULT_TTL"

DEFAULT_BACKEND = "local"
DEFAULT_INSTANCE_TYPE = "ml.m5.large"
DEFAULT_REGION = "us-east-1"


def home_dir() -> Path:
    """Return the folder that holds the ledger, local job folders and cached venvs.

    ``SM_MAGICS_HOME`` wins, so tests and CI can point every process at a scratch folder.
    """
    configured = os.environ.get(ENV_HOME)
    return Path(configured).expanduser() if configured else Path.home() / ".sm_magics"


def home_key() -> str:
    """Return what tells homes apart for a per-home cache, without building a path.

    ``SM_MAGICS_HOME`` as set (``""``: the default home). Cheaper than :func:`home_dir`,
    which a per-invocation lookup would otherwise pay for.
    """
    return os.environ.get(ENV_HOME) or ""


def default_backend() -> str:
    """Return the backend name from ``SM_MAGICS_BACKEND``, else ``"local"``."""
    return os.environ.get(ENV_BACKEND) or DEFAULT_BACKEND


def default_instance_type() -> str:
    """Return the instance type from ``SM_MAGICS_INSTANCE_TYPE``, else ``ml.m5.large``."""
    return os.environ.get(ENV_INSTANCE_TYPE) or DEFAULT_INSTANCE_TYPE


def default_region() -> str:
    """Return the region: ``SM_MAGICS_REGION``, then ``AWS_REGION``/``AWS_DEFAULT_REGION``."""
    for name in (ENV_REGION, "AWS_REGION", "AWS_DEFAULT_REGION"):
        value = os.environ.get(name)
        if value:
            return value
    return DEFAULT_REGION


def max_local_jobs() -> int:
    """Return how many local jobs may train at once; the rest wait in ``Starting``.

    One per core by default: a training script usually keeps a core busy, and a laptop
    that runs twenty at once helps nobody.
    """
    configured = os.environ.get(ENV_MAX_LOCAL_JOBS)
    if configured:
        try:
            return max(1, int(configured))
        except ValueError:
            pass
    return max(1, os.cpu_count() or 1)


def max_hourly_cost() -> float:
    """Return the budget guard's limit in USD per hour from ``SM_MAGICS_MAX_HOURLY_COST``.

    ``0`` (the default) turns the guard off. A value that is not a non-negative number
    also means off rather than an error: a typo in an environment variable must not stop
    every kernel from loading the magics; ``%config`` validates what users type.
    """
    configured = os.environ.get(ENV_MAX_HOURLY_COST)
    if configured:
        try:
            value = float(configured)
        except ValueError:
            return 0.0
        if value > 0 and value != float("inf"):
            return value
    return 0.0


def default_ttl() -> str:
    """Return the TTL given to new endpoints from ``SM_MAGICS_DEFAULT_TTL`` (``""``: none)."""
    return os.environ.get(ENV_DEFAULT_TTL, "").strip()
