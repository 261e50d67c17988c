"""The Python API under the magics: ``Session``, the ``Job`` handle, names and specs.

Every magic is one call on a :class:`Session`, so everything a notebook does a script or a
test can do without IPython. The package's modules, each with one job:

- :mod:`~sm_magics.api.session`: ``Session`` (defaults, backends, the budget guard);
- :mod:`~sm_magics.api.specs`: specs of new resources, built and validated once;
- :mod:`~sm_magics.api.job`: the ``Job`` handle (training and transform jobs);
- :mod:`~sm_magics.api.tuning`: the ``Tuning`` handle and ``Session.tune``;
- :mod:`~sm_magics.api.deploy`: deploy planning (create an endpoint or update its variants);
- :mod:`~sm_magics.api.names`: SageMaker's naming rule and generated names.

Tables and widgets are the display layer's (:mod:`sm_magics.display`); ``JobRow``,
``JobTable`` and ``STATUS_COLOURS`` are re-exported here for older imports.
"""

from __future__ import annotations

from sm_magics.api.job import Job
from sm_magics.api.names import (
    CELL_ENTRY_POINT,
    DEFAULT_ENTRY_POINT,
    DEFAULT_JOB_PREFIX,
    JOB_NAME_RE,
    generate_job_name,
    validate_job_name,
)
from sm_magics.api.session import CostWarning, Session
from sm_magics.api.tuning import Tuning
from sm_magics.display import STATUS_COLOURS, format_log_line, widgets_available
from sm_magics.display.jobs import JobRow, JobTable
from sm_magics.errors import NotFound

__all__ = [
    "CELL_ENTRY_POINT",
    "DEFAULT_ENTRY_POINT",
    "DEFAULT_JOB_PREFIX",
    "JOB_NAME_RE",
    "STATUS_COLOURS",
    "CostWarning",
    "Job",
    "JobRow",
    "JobTable",
    "NotFound",
    "Session",
    "Tuning",
    "format_log_line",
    "generate_job_name",
    "validate_job_name",
    "widgets_available",
]
