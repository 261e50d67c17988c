"""Make a notebook's first local job as quick to show its first line as the next ones.

``%load_ext sm_magics`` stays light: it registers the magics and imports nothing of the
backends. The first ``%%sm_train`` of a kernel then paid for everything at once: the
import of the local backend and psutil, the ledger's first opening, the price table (each
tens of milliseconds, even with cached bytecode) and a job starter's interpreter start
(see :mod:`.backends.local.handoff`): several times the next job's wait for its first line.
Half a second after the extension loads, while the person types the next cell, a daemon
thread does all of it and has the kernel keep a starter ready, as it does after every job.

Only for the local backend (the default) as configured then; never boto3 or ipywidgets
(tests/test_import_light.py checks the kernel right after loading). ``SM_MAGICS_WARM_UP=0``
turns it off (the test suite does, and a kernel that will never train locally may).
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sm_magics.magics import SageMakerMagics

ENV_WARM_UP = "SM_MAGICS_WARM_UP"
#: Seconds after ``%load_ext`` before warming up: the loading cell has returned by then.
DELAY = 0.5


def start(core: SageMakerMagics) -> threading.Timer | None:
    """Schedule the warm-up of ``core``'s kernel; return its timer (None: turned off)."""
    if os.environ.get(ENV_WARM_UP, "1") == "0":
        return None
    timer = threading.Timer(DELAY, _warm, args=(core,))
    timer.name = "sm-magics-warm-up"
    timer.daemon = True
    timer.start()
    return timer


def _warm(core: SageMakerMagics) -> None:
    """Import the local backend and keep a starter ready; never raise."""
    try:
        if core.backend != "local":
            return
        import psutil  # noqa: F401 - the engine records each job's starter with it

        from sm_magics import config, costs
        from sm_magics.backends.local import engine, handoff  # noqa: F401
        from sm_magics.ledger import Ledger

        handoff.keep_one_ready()
        ledger = Ledger()  # the file made and migrated once, not in the first job's path
        try:
            ledger.generation()
        finally:
            ledger.close()
        costs.rate_for("training", config.default_instance_type(), 1, config.default_region())
    except Exception:  # noqa: BLE001, S110 - a warm-up must never disturb the notebook
        pass
