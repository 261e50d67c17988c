"""What the extension's handlers share: the Session, the worker threads, the ledger version.

One :class:`ServerContext` lives in the tornado settings for the life of the Jupyter
server. Everything that blocks (SQLite, a backend's describe, boto3) runs on its own small
thread pool, so neither the server's event loop nor its default executor (which Jupyter's
contents and kernels use) ever waits for a slow backend. Invocations have a pool of their
own: a model may take SageMaker's whole 60 s to answer, and eight slow ones sharing the
panel's threads froze ``/jobs``, ``/cost`` and ``/changes`` for as long. At most
:data:`MAX_QUEUED_INVOCATIONS` wait for that pool; more are refused (429) at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar, cast

from sm_magics import config
from sm_magics.api import Session
from sm_magics.errors import ResourceLimitExceeded
from sm_magics.server.changes import LedgerVersion

T = TypeVar("T")

#: Worker threads: enough for a few panels plus a slow SageMaker describe.
MAX_WORKERS = 8
#: Threads that run invocations, and how many invocations may wait for one.
MAX_INVOCATIONS = 8
MAX_QUEUED_INVOCATIONS = 64
#: A running job or live endpoint is described at most this often (seconds), however
#: many panels and routes ask: the ledger is fresh enough for a table between two calls.
REFRESH_INTERVAL = 1.0


class ServerContext:
    """The Session (rebuilt if ``SM_MAGICS_HOME`` changes), executor and version reader."""

    def __init__(self, max_workers: int = MAX_WORKERS) -> None:
        self.executor = ThreadPoolExecutor(max_workers, thread_name_prefix="sm-magics")
        self.invocations = ThreadPoolExecutor(MAX_INVOCATIONS, thread_name_prefix="sm-invoke")
        #: Invocations handed to :attr:`invocations` and not finished (running or queued).
        self.invocations_pending = 0
        self._lock = threading.Lock()
        self._home: Path | None = None
        self._session: Session | None = None
        self._version: LedgerVersion | None = None
        self._refreshed: dict[tuple[str, str], float] = {}
        self._pages: dict[Hashable, tuple[str, Any]] = {}

    def _current(self) -> tuple[Session, LedgerVersion]:
        # The home is read per call: the kernel, supervisors and routers find the ledger
        # the same way, and tests give every test its own home in one process.
        home = config.home_dir()
        with self._lock:
            if self._session is None or self._version is None or home != self._home:
                if self._session is not None:
                    self._session.ledger.close()
                if self._version is not None:
                    self._version.close()
                # Backend and region come from the SM_MAGICS_* environment, as in a kernel;
                # each ledger row names the backend it runs on anyway.
                self._session = Session(notebook=None)
                self._version = LedgerVersion(self._session.ledger.path)
                self._home = home
                self._refreshed.clear()
                self._pages.clear()
            return self._session, self._version

    @property
    def session(self) -> Session:
        """The Session the handlers work with (the kernel's ``sm_magics.api.Session``)."""
        return self._current()[0]

    def version(self) -> str:
        """Return the ledger's version (blocking)."""
        return self._current()[1].read()

    def page(self, key: Hashable, version: str, read: Callable[[], T]) -> T:
        """Return ``read()``, or what it returned for ``key`` at this same ledger ``version``.

        An idle panel refreshes its lists once a minute; while the version stands still
        the rows are those it read last time, so it reads none (issue 13: nothing an idle
        panel does reads rows that did not change). Callers cache only answers that do
        not move with the clock (no running job in them).
        """
        with self._lock:
            cached = self._pages.get(key)
        if cached is not None and cached[0] == version:
            return cast(T, cached[1])
        return read()

    def keep_page(self, key: Hashable, version: str, value: object) -> None:
        """Remember ``value`` as the answer for ``key`` at ``version`` (see :meth:`page`)."""
        with self._lock:
            if len(self._pages) > 256:
                self._pages.clear()
            self._pages[key] = (version, value)

    def refresh_due(self, kind: str, name: str) -> bool:
        """Whether ``name`` should be described now; if so, note that it is being done."""
        now = time.monotonic()
        with self._lock:
            if now - self._refreshed.get((kind, name), -REFRESH_INTERVAL) < REFRESH_INTERVAL:
                return False
            self._refreshed[(kind, name)] = now
            if len(self._refreshed) > 10_000:  # names of long-gone jobs: forget them
                self._refreshed = {k: v for k, v in self._refreshed.items() if now - v < 60}
            return True

    def take_invocation_slot(self) -> None:
        """Count one more invocation in flight, or refuse it when too many wait already.

        Raises
        ------
        ResourceLimitExceeded
            :data:`MAX_QUEUED_INVOCATIONS` are waiting for a thread already.
        """
        with self._lock:
            if self.invocations_pending >= MAX_INVOCATIONS + MAX_QUEUED_INVOCATIONS:
                raise ResourceLimitExceeded(
                    f"{self.invocations_pending} invocations are in flight or waiting; "
                    "try again when some have answered."
                )
            self.invocations_pending += 1

    def release_invocation_slot(self) -> None:
        """Count one invocation finished."""
        with self._lock:
            self.invocations_pending -= 1

    def close(self) -> None:
        """Stop the worker threads and close the ledger connections."""
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.invocations.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            if self._session is not None:
                self._session.ledger.close()
            if self._version is not None:
                self._version.close()
