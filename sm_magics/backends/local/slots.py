"""A machine-wide limit on how many local jobs train at once.

Each running job holds an exclusive ``flock`` on one of ``N`` slot files. The kernel frees
a lock when its holder dies, however it dies, so a crashed supervisor can never leak a
slot, and no daemon is needed to hand slots out. Waiting jobs stay ``Starting``, as on
SageMaker while instances are provisioned.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

POLL_SECONDS = 0.2


def try_acquire(slots_dir: Path, capacity: int) -> int | None:
    """Take a free slot without waiting; return its open descriptor, or ``None``."""
    slots_dir.mkdir(parents=True, exist_ok=True)
    for index in range(capacity):
        fd = os.open(slots_dir / f"slot-{index}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return fd
    return None


def acquire(slots_dir: Path, capacity: int, cancel: threading.Event) -> int | None:
    """Wait for a free slot; return its descriptor, or ``None`` when ``cancel`` is set.

    The descriptor is the lock: keep it open for as long as the job trains.
    """
    while not cancel.is_set():
        fd = try_acquire(slots_dir, capacity)
        if fd is not None:
            return fd
        cancel.wait(POLL_SECONDS)
    return None
