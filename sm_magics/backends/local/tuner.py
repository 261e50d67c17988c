"""The detached process that runs one local tuning job from start to end.

Started by :class:`~sm_magics.backends.local.tuning.LocalTuning` in a new session, so it
outlives the kernel; the only writer of the tuning folder's ``state.json`` while it lives.
It imports Optuna (the search) and drives :class:`~sm_magics.tuning.loop.TuningLoop` over
a local backend: every trial is an ordinary local training job, with its own supervisor.
SIGTERM (``%sm_stop``, the widget's Stop, cleanup) stops the running trials, then the job.

Run as ``python -m sm_magics.backends.local.tuner <tuning-folder>``.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback
from pathlib import Path

from sm_magics.backends.local.tuning import TuningDir, sync_ledger
from sm_magics.tuning.state import TuningState, tuning_state


def run(folder: Path) -> int:
    """Run the tuning job in ``folder``; return the exit code (0 unless we crashed)."""
    from sm_magics.backends.local.engine import LocalBackend
    from sm_magics.backends.local.processes import start_ticks
    from sm_magics.ledger import Ledger
    from sm_magics.tuning.loop import TuningLoop
    from sm_magics.tuning.spec import TuningSpec

    tuning = TuningDir(folder)
    spec = TuningSpec.from_json(tuning.read_tuning_spec())
    state = tuning_state(tuning.read_state())
    state["tuner_pid"] = os.getpid()
    state["tuner_start"] = start_ticks(os.getpid())
    ledger = Ledger()

    def save(current: TuningState) -> None:
        tuning.write_state(current)
        sync_ledger(ledger, spec.name, current)

    parents = []
    for parent in spec.warm_start:
        parent_dir = TuningDir.for_tuning(parent)
        if parent_dir.exists():
            parents.append(tuning_state(parent_dir.read_state()))
    loop = TuningLoop(spec, LocalBackend(), save, state=state, parents=parents)
    signal.signal(signal.SIGTERM, lambda *_: loop.stop_requested.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if tuning.stop_marker.exists():  # stopped before we could install the handler
        loop.stop_requested.set()
    deadline = state["created"] + spec.max_runtime if spec.max_runtime else None
    try:
        loop.run(deadline)
    except Exception:  # noqa: BLE001 - whatever broke, the job must end Failed and say why
        state = loop.state
        state["status"] = "Failed"
        state["ended"] = time.time()
        state["failure_reason"] = "InternalServerError: " + traceback.format_exc(limit=3)[-900:]
        loop._stop_all()
        save(state)
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1])))
