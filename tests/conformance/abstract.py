"""Backend conformance scenarios, written once, run against every backend.

The model is fsspec's ``tests/abstract``: the scenarios are mixin classes that only use two
fixtures, ``backend`` (a :class:`~sm_magics.backends.base.Backend`) and ``harness`` (a
:class:`Harness`: what a scenario needs from the world around the backend, such as a job
whose script does a given thing, or a look at what a model archive holds).
:class:`BackendFixtures` declares both and raises ``NotImplementedError``; each backend's
module supplies them and combines::

    class TestLocalTraining(TrainingScenarios, LocalFixtures):
        pass

Every assertion is the contract of :mod:`sm_magics.backends.base`, in SageMaker's words:
``DescribeTrainingJob`` fields and statuses, :mod:`sm_magics.errors` classes, the ledger row.
A scenario that cannot mean anything on one backend is listed in that backend's
:attr:`BackendFixtures.not_meaningful` with the reason, and is reported skipped there.

A training job's behaviour is described once (:class:`Behaviour`), and each harness makes
it happen its own way: the local backend runs :meth:`Behaviour.script` as written, the
sagemaker harness's simulator produces what SageMaker would show for that script (statuses,
CloudWatch lines, ``model.tar.gz``). The script's ``model_fn``/``transform_fn`` serve what it
trains, so endpoints and batch transform run the job's own model on both backends.

Waits poll with a timeout that only keeps a broken backend from hanging the run; no
assertion is about time.
"""

from __future__ import annotations

import abc
import contextlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest

from sm_magics.backends import base, kinds, processing, statuses
from sm_magics.backends.results import LogEvent
from sm_magics.backends.specs import (
    DEFAULT_VARIANT,
    EndpointSpec,
    TrainingSpec,
    TransformSpec,
    VariantSpec,
)
from sm_magics.errors import AlreadyExists, InvalidRequest, ModelError, NotFound
from sm_magics.ledger import Ledger
from sm_magics.ledger_records import REDACTED

#: Longest wait for anything; only against hangs.
WAIT = 60.0

TRAINING_STATUSES = frozenset(
    {statuses.IN_PROGRESS, statuses.COMPLETED, statuses.FAILED, statuses.STOPPING, statuses.STOPPED}
)
#: The secondary statuses of the contract, in the order a job walks them.
SECONDARY_ORDER = (statuses.STARTING, statuses.DOWNLOADING, statuses.TRAINING, statuses.UPLOADING)
SECONDARY_STATUSES = frozenset(
    {
        *SECONDARY_ORDER,
        statuses.COMPLETED,
        statuses.FAILED,
        statuses.STOPPING,
        statuses.STOPPED,
        statuses.MAX_RUNTIME_EXCEEDED,
    }
)
#: Which secondary statuses go with which final status.
FINAL_SECONDARY = {
    statuses.COMPLETED: {statuses.COMPLETED},
    statuses.FAILED: {statuses.FAILED},
    statuses.STOPPED: {statuses.STOPPED, statuses.MAX_RUNTIME_EXCEEDED},
}
ENDPOINT_STATUSES = frozenset(
    {statuses.CREATING, statuses.IN_SERVICE, statuses.UPDATING, statuses.DELETING, statuses.FAILED}
)

#: What the conformance model learns: every prediction is the sum of a row times this.
MULTIPLIER = 3.0
#: The environment variable naming the file a gated job waits for (local backend).
GATE_ENV = "CONFORMANCE_GATE"

_SCRIPT = '''\
"""A conformance training script; its handlers serve the model it trains."""

import json
import os
import sys
import time
from pathlib import Path

BEFORE = __BEFORE__
AFTER = __AFTER__
FAILURE = __FAILURE__
MULTIPLIER = __MULTIPLIER__


def model_fn(model_dir):
    return float(Path(model_dir, "model.txt").read_text())


def transform_fn(model, body, content_type, accept):
    text = body.decode() if isinstance(body, bytes) else str(body)
    if content_type.split(";")[0].strip() == "text/csv":
        rows = [[float(v) for v in line.split(",")] for line in text.splitlines() if line.strip()]
    else:
        rows = json.loads(text)
    if any(value < 0 for row in rows for value in row):
        raise ValueError("negative features cannot be scored")
    answer = [sum(row) * model for row in rows]
    if (accept or "").split(";")[0].strip() == "text/csv":
        return "".join(f"{value}\\n" for value in answer), "text/csv"
    return json.dumps(answer), "application/json"


def main():
    host = os.environ["SM_CURRENT_HOST"]
    for line in BEFORE:
        print(f"{line} on {host}", flush=True)
    gate = os.environ.get("__GATE_ENV__")
    if gate:
        while not Path(gate).exists():
            time.sleep(0.02)
    for line in AFTER:
        print(f"{line} on {host}", flush=True)
    if FAILURE:
        Path(os.environ["SM_OUTPUT_DIR"], "failure").write_text(FAILURE)
        sys.exit(1)
    Path(os.environ["SM_MODEL_DIR"], "model.txt").write_text(str(MULTIPLIER))


if __name__ == "__main__":
    main()
'''


def predict(rows: list[list[float]]) -> list[float]:
    """Return what the conformance model answers for ``rows``."""
    return [sum(row) * MULTIPLIER for row in rows]


@dataclass(frozen=True)
class Behaviour:
    """What a training job's script does, the same on every backend.

    Each host prints ``before``, then (if ``gated``) waits until the harness releases the
    job (or it is stopped), prints ``after``, then fails with ``failure`` or saves the
    model (``model.txt`` holding :data:`MULTIPLIER`). Lines are printed as
    ``"<line> on algo-N"``.
    """

    hosts: int = 1
    before: tuple[str, ...] = ("hello",)
    gated: bool = False
    after: tuple[str, ...] = ()
    failure: str | None = None

    def script(self) -> str:
        """Return the training script's text (it is the job's code on both backends)."""
        return (
            _SCRIPT.replace("__BEFORE__", repr(list(self.before)))
            .replace("__AFTER__", repr(list(self.after)))
            .replace("__FAILURE__", repr(self.failure))
            .replace("__MULTIPLIER__", repr(MULTIPLIER))
            .replace("__GATE_ENV__", GATE_ENV)
        )

    def lines(self) -> list[tuple[str, str]]:
        """Return every ``(host, message)`` the script prints, host by host."""
        return [
            (f"algo-{host}", f"{line} on algo-{host}")
            for host in range(1, self.hosts + 1)
            for line in (*self.before, *self.after)
        ]


def ledger_of(backend: base.Backend) -> Ledger:
    """Return the ledger a backend records its jobs and endpoints in (every backend has one)."""
    ledger: Ledger = backend.ledger  # type: ignore[attr-defined]
    return ledger


def unique_name(prefix: str) -> str:
    """Return a job or endpoint name no other test uses (SageMaker's alphabet)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    """Poll ``predicate`` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


class Harness(abc.ABC):
    """What the scenarios need around a backend; one subclass per backend.

    Subclasses make a :class:`Behaviour` happen (:meth:`prepare`, :meth:`release`), say how
    the backend may refuse a spec (:meth:`invalid_training_specs`), and look at results
    where the backend put them (:meth:`model_files`, :meth:`transform_outputs`).
    """

    def __init__(self, backend: base.Backend) -> None:
        self.backend = backend

    # -- training ---------------------------------------------------------------------------

    def training_spec(self, behaviour: Behaviour, **overrides: Any) -> TrainingSpec:
        """Return a spec whose job behaves as ``behaviour`` on this backend."""
        values: dict[str, Any] = {
            "name": unique_name("conf"),
            "entry_point": "train.py",
            "script": behaviour.script(),
            "instance_count": behaviour.hosts,
            "hyperparameters": {"epochs": 2},
        }
        values.update(overrides)
        spec = TrainingSpec(**values)
        self.prepare(spec, behaviour)
        return spec

    @abc.abstractmethod
    def prepare(self, spec: TrainingSpec, behaviour: Behaviour) -> None:
        """Make the job ``spec`` will create behave as ``behaviour`` (edit ``spec`` if needed)."""

    @abc.abstractmethod
    def release(self, name: str) -> None:
        """Let a gated job go on past its ``before`` lines."""

    @abc.abstractmethod
    def invalid_training_specs(self) -> dict[str, TrainingSpec]:
        """Return specs this backend must refuse with ``InvalidRequest``, by what is wrong."""

    @abc.abstractmethod
    @contextlib.contextmanager
    def nothing_created(self, name: str, kind: str = "training") -> Iterator[None]:
        """Check, when the block ends, that nothing of job ``name`` was made anywhere."""

    @abc.abstractmethod
    def remove_out_of_band(self, kind: str, name: str) -> None:
        """Make the ended job or live endpoint ``name`` vanish behind the backend's back.

        As it happens outside sm-magics: a folder removed by hand, a resource deleted in
        the console or by its TTL schedule. ``kind`` is a job kind or ``"endpoint"``.
        """

    @abc.abstractmethod
    def model_files(self, uri: str) -> dict[str, bytes]:
        """Return the files of the ``model.tar.gz`` at ``uri`` (it must exist)."""

    # -- endpoints and transform ------------------------------------------------------------

    @abc.abstractmethod
    def assert_endpoint_gone(self, name: str) -> None:
        """Check that nothing of endpoint ``name`` runs or exists any more."""

    @abc.abstractmethod
    def transform_io(self, files: dict[str, str]) -> tuple[str, str]:
        """Write ``files`` as a transform's input; return ``(input URI, output URI)``."""

    @abc.abstractmethod
    def transform_outputs(self, output_uri: str) -> dict[str, str]:
        """Return ``{relative name: text}`` of what a transform wrote to ``output_uri``."""

    # -- processing -------------------------------------------------------------------------

    @abc.abstractmethod
    def processing_input(self, files: dict[str, str]) -> str:
        """Write ``files`` as a processing input; return its URI (as a user would give it)."""

    @abc.abstractmethod
    def prepare_processing(self, spec: processing.ProcessingSpec, *, gated: bool) -> None:
        """Make a gated job's script wait (until it is stopped) on this backend."""

    def processing_outputs(self, output_uri: str) -> dict[str, str]:
        """Return ``{relative name: text}`` of what a processing job stored at ``output_uri``.

        The same reading as a transform's results (a folder or an S3 prefix; an output
        URI names a folder, with or without its final ``/``).
        """
        return self.transform_outputs(output_uri.rstrip("/") + "/")


class BackendFixtures:
    """The abstract fixtures; a backend's module overrides ``backend`` and ``harness``."""

    #: Scenario (test function name) -> why it cannot be meaningful on this backend.
    not_meaningful: ClassVar[dict[str, str]] = {}

    @pytest.fixture
    def backend(self) -> base.Backend:
        """The backend under test."""
        raise NotImplementedError

    @pytest.fixture
    def harness(self, backend: base.Backend) -> Harness:
        """The :class:`Harness` of that backend."""
        raise NotImplementedError

    @pytest.fixture(autouse=True)
    def _only_meaningful(self, request: pytest.FixtureRequest) -> None:
        reason = self.not_meaningful.get(request.node.originalname)
        if reason:
            where = f"{type(self).__name__}::{request.node.originalname}"
            pytest.skip(f"{where} is not meaningful on this backend: {reason}")


def scenario_names() -> set[str]:
    """Return the name of every scenario of every mixin (for checking skip lists)."""
    return {
        name
        for cls in (
            TrainingScenarios,
            EndpointScenarios,
            TransformScenarios,
            ProcessingScenarios,
            RegistryScenarios,
            TuningScenarios,
        )
        for name in vars(cls)
        if name.startswith("test_")
    }


# -- helpers shared by the scenarios ----------------------------------------------------------


@dataclass
class Watch:
    """Everything ``describe_training_job`` said about one job while a scenario waited."""

    backend: base.Backend
    name: str
    seen: list[tuple[str, str]] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        """Describe the job, checking the statuses are the contract's words."""
        description = self.backend.describe_training_job(self.name)
        status, secondary = description["TrainingJobStatus"], description["SecondaryStatus"]
        assert description["TrainingJobName"] == self.name
        assert status in TRAINING_STATUSES, description
        assert secondary in SECONDARY_STATUSES, description
        if status in FINAL_SECONDARY:
            assert secondary in FINAL_SECONDARY[status], description
        if not self.seen or self.seen[-1] != (status, secondary):
            self.seen.append((status, secondary))
        return description

    def until(self, what: str, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """Describe until ``predicate(description)``; return that description."""

        def check() -> dict[str, Any] | None:
            description = self.describe()
            return description if predicate(description) else None

        try:
            return wait_for(check, f"{self.name}: {what}")  # type: ignore[no-any-return]
        except AssertionError as exc:
            raise AssertionError(f"{exc}; statuses seen: {self.seen}") from None

    def until_terminal(self) -> dict[str, Any]:
        """Describe until the job has ended."""
        return self.until("the end", lambda d: d["TrainingJobStatus"] in statuses.TERMINAL_STATUSES)

    def until_training(self) -> dict[str, Any]:
        """Describe until the script runs (secondary status ``Training``) or the job ended."""
        return self.until(
            "Training",
            lambda d: (
                d["SecondaryStatus"] == statuses.TRAINING
                or d["TrainingJobStatus"] in statuses.TERMINAL_STATUSES
            ),
        )

    def assert_walked_forward(self) -> None:
        """Check the secondary statuses seen never went back (Starting → ... → Uploading)."""
        ranks = [SECONDARY_ORDER.index(s) for _, s in self.seen if s in SECONDARY_ORDER]
        assert ranks == sorted(ranks), self.seen


def assert_reads_deleted(backend: base.Backend, kind: str, name: str) -> None:
    """Check a resource removed out of band reads as ``Deleted`` through every path.

    ``refresh`` (what the API, the server and cleanup call) returns the row marked
    ``Deleted`` with ``deleted_at``; ``describe`` says ``NotFound`` and marks nothing twice;
    the ledger's listings of what runs leave it out.
    """
    ledger = ledger_of(backend)
    record = ledger.get_endpoint(name) if kind == "endpoint" else ledger.get_job(name)
    assert record is not None and record.status != statuses.DELETED
    refreshed = backend.refresh(record)
    assert refreshed is not None
    assert refreshed.status == statuses.DELETED, refreshed
    assert refreshed.deleted_at is not None
    with pytest.raises(NotFound):
        if kind == "endpoint":
            backend.describe_endpoint(name)
        else:
            kinds.describe(backend, kind, name)
    again = ledger.get_endpoint(name) if kind == "endpoint" else ledger.get_job(name)
    assert again is not None
    assert (again.status, again.deleted_at) == (statuses.DELETED, refreshed.deleted_at)
    if kind == "endpoint":
        assert name not in {r.name for r in ledger.list_endpoints()}
    else:
        assert name not in {r.name for r in ledger.list_jobs(active_only=True)}


def run_to_end(
    harness: Harness, behaviour: Behaviour, **overrides: Any
) -> tuple[TrainingSpec, dict[str, Any], Watch]:
    """Create a job that behaves as ``behaviour``, release it if gated, wait for its end."""
    spec = harness.training_spec(behaviour, **overrides)
    harness.backend.create_training_job(spec)
    watch = Watch(harness.backend, spec.name)
    if behaviour.gated:
        watch.until_training()
        harness.release(spec.name)
    return spec, watch.until_terminal(), watch


def drain_logs(
    backend: base.Backend, name: str, cursor: dict[str, Any] | None
) -> tuple[list[list[LogEvent]], dict[str, Any] | None]:
    """Read an ended job's logs until a call returns nothing; return the batches."""
    batches = []
    for _ in range(100):
        batch = backend.read_training_logs(name, cursor)
        cursor = batch.cursor
        if not batch.events:
            return batches, cursor
        batches.append(batch.events)
    raise AssertionError(f"the logs of {name} never ended")


# -- training ---------------------------------------------------------------------------------


class TrainingScenarios:
    """``create/describe/stop_training_job`` and ``read_training_logs``."""

    def test_describe_speaks_sagemaker_from_the_first_call(
        self, backend: base.Backend, harness: Harness
    ) -> None:
        spec = harness.training_spec(Behaviour(gated=True))
        backend.create_training_job(spec)
        watch = Watch(backend, spec.name)
        description = watch.describe()  # at once: the job was accepted, not waited for
        assert description["TrainingJobStatus"] == statuses.IN_PROGRESS
        assert description["SecondaryStatus"] in SECONDARY_ORDER
        assert spec.name in description["TrainingJobArn"]
        assert description["ResourceConfig"]["InstanceType"] == spec.instance_type
        assert description["ResourceConfig"]["InstanceCount"] == spec.instance_count
        assert json.loads(description["HyperParameters"]["epochs"]) == 2
        assert "CreationTime" in description
        assert "TrainingEndTime" not in description
        watch.until_training()
        harness.release(spec.name)
        assert watch.until_terminal()["TrainingJobStatus"] == statuses.COMPLETED
        watch.assert_walked_forward()

    def test_a_job_completes_with_its_model(self, backend: base.Backend, harness: Harness) -> None:
        spec, description, watch = run_to_end(harness, Behaviour())
        assert (description["TrainingJobStatus"], description["SecondaryStatus"]) == (
            statuses.COMPLETED,
            statuses.COMPLETED,
        )
        uri = description["ModelArtifacts"]["S3ModelArtifacts"]
        assert uri.endswith("model.tar.gz")
        assert harness.model_files(uri) == {"model.txt": str(MULTIPLIER).encode()}
        assert "TrainingEndTime" in description
        assert "FailureReason" not in description
        watch.assert_walked_forward()
        record = ledger_of(backend).get_job(spec.name)
        assert (record.status, record.model_data) == (statuses.COMPLETED, uri)

    def test_a_failing_job_fails_with_the_scripts_reason(
        self, backend: base.Backend, harness: Harness
    ) -> None:
        behaviour = Behaviour(failure="column price has NaN values")
        spec, description, _ = run_to_end(harness, behaviour)
        assert (description["TrainingJobStatus"], description["SecondaryStatus"]) == (
            statuses.FAILED,
            statuses.FAILED,
        )
        assert description["FailureReason"].startswith("AlgorithmError")
        assert "column price has NaN values" in description["FailureReason"]
        record = ledger_of(backend).get_job(spec.name)
        assert record.status == statuses.FAILED
        assert record.failure_reason == description["FailureReason"]
        assert record.model_data is None  # a failed job has no model to deploy

    def test_stop_ends_a_running_job_stopped_and_is_idempotent(
        self, backend: base.Backend, harness: Harness
    ) -> None:
        spec = harness.training_spec(Behaviour(gated=True))  # never released
        backend.create_training_job(spec)
        watch = Watch(backend, spec.name)
        assert watch.until_training()["TrainingJobStatus"] == statuses.IN_PROGRESS
        backend.stop_training_job(spec.name)
        assert watch.describe()["TrainingJobStatus"] in (statuses.STOPPING, statuses.STOPPED)
        description = watch.until_terminal()
        assert (description["TrainingJobStatus"], description["SecondaryStatus"]) == (
            statuses.STOPPED,
            statuses.STOPPED,
        )
        backend.stop_training_job(spec.name)  # ended: nothing to do, no error
        backend.stop_training_job(spec.name)
        assert watch.describe()["TrainingJobStatus"] == statuses.STOPPED
        record = ledger_of(backend).get_job(spec.name)
        assert (record.status, record.secondary_status) == (statuses.STOPPED, statuses.STOPPED)

    def test_stop_right_after_create_ends_stopped_not_failed(
        self, backend: base.Backend, harness: Harness
    ) -> None:
        spec = harness.training_spec(Behaviour(gated=True))  # never released
        backend.create_training_job(spec)
        backend.stop_training_job(spec.name)  # before anything was described or ran
        description = Watch(backend, spec.name).until_terminal()
        assert description["TrainingJobStatus"] == statuses.STOPPED, description
        assert "FailureReason" not in description
        record = ledger_of(backend).get_job(spec.name)
        assert record.status == statuses.STOPPED

    def test_stop_of_a_completed_job_changes_nothing(
        self, backend: base.Backend, harness: Harness
    ) -> None:
        spec, description, watch = run_to_end(harness, Behaviour())
        backend.stop_training_job(spec.name)
        after = watch.describe()
        assert after["TrainingJobStatus"] == statuses.COMPLETED
        assert after["ModelArtifacts"] == description["ModelArtifacts"]

    def test_a_job_over_its_max_run_is_stopped_with_max_runtime_exceeded(
        self, backend: base.Backend, harness: Harness
    ) -> None:
        spec = harness.training_spec(Behaviour(gated=True), max_run=1)  # never released
        backend.create_training_job(spec)
        description = Watch(backend, spec.name).until_terminal()
        assert (description["TrainingJobStatus"], description["SecondaryStatus"]) == (
            statuses.STOPPED,
            statuses.MAX_RUNTIME_EXCEEDED,
        )
        assert description["StoppingCondition"]["MaxRuntimeInSeconds"] == 1

    def test_a_taken_name_is_refused_and_the_first_job_is_untouched(
        self, backend: base.Backend, harness: Harness
    ) -> None:
        first = harness.training_spec(Behaviour(gated=True), hyperparameters={"run": "first"})
        backend.create_training_job(first)
        watch = Watch(backend, first.name)
        before = watch.until_training()
        record = ledger_of(backend).get_job(first.name)
        second = harness.training_spec(
            Behaviour(), name=first.name, hyperparameters={"run": "second"}, instance_count=2
        )
        with pytest.raises(AlreadyExists):
            backend.create_training_job(second)
        again = watch.describe()
        assert again["HyperParameters"] == before["HyperParameters"]
        assert again["ResourceConfig"] == before["ResourceConfig"]
        assert again["CreationTime"] == before["CreationTime"]
        assert ledger_of(backend).get_job(first.name).spec == record.spec
        harness.release(first.name)
        assert watch.until_terminal()["TrainingJobStatus"] == statuses.COMPLETED

    def test_a_job_removed_out_of_band_reads_deleted(
        self, backend: base.Backend, harness: Harness
    ) -> None:
        spec, _, _ = run_to_end(harness, Behaviour())
        harness.remove_out_of_band("training", spec.name)
        assert_reads_deleted(backend, "training", spec.name)

    def test_describe_alone_marks_a_vanished_job_deleted(
        self, backend: base.Backend, harness: Harness
    ) -> None:
        spec, _, _ = run_to_end(harness, Behaviour())
        harness.remove_out_of_band("training", spec.name)
        with pytest.raises(NotFound):
            backend.describe_training_job(spec.name)
        record = ledger_of(backend).get_job(spec.name)
        assert (record.status, record.deleted_at is not None) == (statuses.DELETED, True)

    def test_an_unknown_job_is_not_found(self, backend: base.Backend) -> None:
        name = unique_name("ghost")
        with pytest.raises(NotFound):
            backend.describe_training_job(name)
        with pytest.raises(NotFound):
            backend.stop_training_job(name)
        with pytest.raises(NotFound):
            backend.read_training_logs(name)

    def test_invalid_specs_are_refused_and_leave_nothing(
        self, backend: base.Backend, harness: Harness
    ) -> None:
        specs = harness.invalid_training_specs()
        assert specs, "a backend refuses some spec"
        for what, spec in specs.items():
            with harness.nothing_created(spec.name):
                with pytest.raises(InvalidRequest) as caught:
                    backend.create_training_job(spec)
                assert not isinstance(caught.value, AlreadyExists), what
            assert ledger_of(backend).get_job(spec.name) is None, what
        # The refused name was not reserved: a good spec of that name runs.
        good = harness.training_spec(Behaviour(), name=spec.name)
        backend.create_training_job(good)
        assert Watch(backend, good.name).until_terminal()["TrainingJobStatus"] == statuses.COMPLETED

    def test_the_ledger_row_has_the_backend_and_follows_describe(
        self, backend: base.Backend, harness: Harness
    ) -> None:
        spec = harness.training_spec(Behaviour(gated=True), tags={"team": "conformance"})
        backend.create_training_job(spec)
        record = ledger_of(backend).get_job(spec.name)
        assert (record.name, record.kind, record.backend) == (spec.name, "training", backend.name)
        assert record.status == statuses.IN_PROGRESS
        assert (record.instance_type, record.instance_count) == (
            spec.instance_type,
            spec.instance_count,
        )
        assert record.tags == {"team": "conformance"}
        watch = Watch(backend, spec.name)
        training = watch.until_training()
        record = ledger_of(backend).get_job(spec.name)
        assert (record.status, record.secondary_status) == (
            training["TrainingJobStatus"],
            training["SecondaryStatus"],
        )
        harness.release(spec.name)
        final = watch.until_terminal()
        record = ledger_of(backend).get_job(spec.name)
        assert (record.status, record.secondary_status) == (
            final["TrainingJobStatus"],
            final["SecondaryStatus"],
        )
        assert record.ended_at is not None
        assert record.is_terminal

    def test_logs_come_once_each_merged_by_time_and_tagged_by_host(
        self, backend: base.Backend, harness: Harness
    ) -> None:
        behaviour = Behaviour(
            hosts=2, before=("epoch 1", "epoch 2", "epoch 3"), gated=True, after=("saved",)
        )
        spec = harness.training_spec(behaviour)
        backend.create_training_job(spec)
        watch = Watch(backend, spec.name)
        batches: list[list[LogEvent]] = []
        cursor: dict[str, Any] | None = None
        wanted_first = {(h, m) for h, m in behaviour.lines() if not m.startswith("saved")}

        def read_before_lines() -> bool:
            nonlocal cursor
            watch.describe()  # as a follower does: status, then lines
            batch = backend.read_training_logs(spec.name, cursor)
            cursor = batch.cursor
            if batch.events:
                batches.append(batch.events)
            seen = {(e.host, e.message) for events in batches for e in events}
            return wanted_first <= seen

        watch.until_training()
        wait_for(read_before_lines, f"the first lines of {spec.name}")
        harness.release(spec.name)
        while watch.describe()["TrainingJobStatus"] not in statuses.TERMINAL_STATUSES:
            batch = backend.read_training_logs(spec.name, cursor)
            cursor = batch.cursor
            if batch.events:
                batches.append(batch.events)
            time.sleep(0.05)
        rest, cursor = drain_logs(backend, spec.name, cursor)
        batches += rest
        assert backend.read_training_logs(spec.name, cursor).events == []

        assert len(batches) >= 2, "lines came in more than one call"
        events = [e for events in batches for e in events]
        counts = Counter((e.host, e.message) for e in events)
        assert {line: counts[line] for line in behaviour.lines()} == dict.fromkeys(
            behaviour.lines(), 1
        )
        for events_of_one_call in batches:  # merged across hosts by timestamp
            stamps = [e.timestamp for e in events_of_one_call]
            assert stamps == sorted(stamps)
        expected = set(behaviour.lines())
        ours = [e for e in events if (e.host, e.message) in expected]
        assert {e.host for e in ours} == {"algo-1", "algo-2"}
        for host in ("algo-1", "algo-2"):
            assert [e.message for e in ours if e.host == host] == [
                m for h, m in behaviour.lines() if h == host
            ]


# -- endpoints --------------------------------------------------------------------------------


def variant(
    trained: dict[str, Any], name: str = DEFAULT_VARIANT, weight: float = 1.0
) -> VariantSpec:
    """Return a variant serving the model of the completed job ``trained``."""
    return VariantSpec(
        name=name,
        model_data=trained["ModelArtifacts"]["S3ModelArtifacts"],
        job=trained["TrainingJobName"],
        weight=weight,
    )


class EndpointDriver:
    """Creates endpoints for one scenario and deletes whatever is left when it ends."""

    def __init__(self, backend: base.Backend) -> None:
        self.backend = backend
        self.names: list[str] = []

    def create(self, *variants: VariantSpec, name: str | None = None) -> str:
        """Create an endpoint; return its name at once."""
        spec = EndpointSpec(
            name=name or unique_name("conf-ep"), variants=list(variants), tags={"t": "conf"}
        )
        self.backend.create_endpoint(spec)
        self.names.append(spec.name)
        return spec.name

    def describe(self, name: str) -> dict[str, Any]:
        """Describe the endpoint, checking its status is one of the contract's."""
        description = self.backend.describe_endpoint(name)
        assert description["EndpointName"] == name
        assert description["EndpointStatus"] in ENDPOINT_STATUSES, description
        return description

    def until(self, name: str, what: str, predicate: Callable[[dict[str, Any]], bool]) -> Any:
        """Describe until ``predicate``; return that description."""

        def check() -> dict[str, Any] | None:
            description = self.describe(name)
            assert description["EndpointStatus"] != statuses.FAILED, description
            return description if predicate(description) else None

        return wait_for(check, f"endpoint {name}: {what}")

    def in_service(self, name: str) -> dict[str, Any]:
        """Wait until InService with every variant as desired (an update applied)."""
        return self.until(  # type: ignore[no-any-return]
            name,
            "InService as desired",
            lambda d: (
                d["EndpointStatus"] == statuses.IN_SERVICE
                and all(
                    v["CurrentWeight"] == v["DesiredWeight"]
                    and v["CurrentInstanceCount"] == v["DesiredInstanceCount"]
                    for v in d["ProductionVariants"]
                )
            ),
        )

    def close(self) -> None:
        """Delete the endpoints the scenario left."""
        for name in self.names:
            with contextlib.suppress(NotFound):
                self.backend.delete_endpoint(name)


def weights(description: dict[str, Any]) -> dict[str, float]:
    """Return ``{variant: current weight}`` of an endpoint description."""
    return {v["VariantName"]: v["CurrentWeight"] for v in description["ProductionVariants"]}


class EndpointScenarios:
    """``create/describe/update/delete/invoke_endpoint``."""

    @pytest.fixture
    def trained(self, harness: Harness) -> dict[str, Any]:
        """The description of a completed job; its model serves every endpoint here."""
        _, description, _ = run_to_end(harness, Behaviour())
        assert description["TrainingJobStatus"] == statuses.COMPLETED, description
        return description

    @pytest.fixture
    def endpoints(self, backend: base.Backend) -> Iterator[EndpointDriver]:
        driver = EndpointDriver(backend)
        yield driver
        driver.close()

    def test_create_goes_in_service_with_its_variant_and_weight(
        self, backend: base.Backend, endpoints: EndpointDriver, trained: dict[str, Any]
    ) -> None:
        name = endpoints.create(variant(trained))
        first = endpoints.describe(name)  # at once: creation was started, not waited for
        assert first["EndpointStatus"] in (statuses.CREATING, statuses.IN_SERVICE)
        assert ledger_of(backend).get_endpoint(name).status in (
            statuses.CREATING,
            statuses.IN_SERVICE,
        )
        description = endpoints.in_service(name)
        [only] = description["ProductionVariants"]
        assert only["VariantName"] == DEFAULT_VARIANT
        assert only["CurrentWeight"] == only["DesiredWeight"] == 1.0
        assert only["CurrentInstanceCount"] == only["DesiredInstanceCount"] == 1
        assert only["InstanceType"] == "ml.m5.large"
        assert only["ModelDataUrl"] == trained["ModelArtifacts"]["S3ModelArtifacts"]
        assert name in description["EndpointArn"]
        assert description["Url"]
        record = ledger_of(backend).get_endpoint(name)
        assert (record.backend, record.status) == (backend.name, statuses.IN_SERVICE)
        assert record.tags == {"t": "conf"}

    def test_invoke_answers_with_the_model_and_names_the_variant(
        self, backend: base.Backend, endpoints: EndpointDriver, trained: dict[str, Any]
    ) -> None:
        name = endpoints.create(variant(trained))
        endpoints.in_service(name)
        rows = [[1.0, 2.0], [3.0, 4.0]]
        result = backend.invoke_endpoint(
            name, json.dumps(rows).encode(), content_type="application/json"
        )
        assert json.loads(result.body) == predict(rows)
        assert result.content_type.startswith("application/json")
        assert result.variant == DEFAULT_VARIANT
        csv = backend.invoke_endpoint(
            name, b"1,1\n2,2\n", content_type="text/csv", accept="text/csv"
        )
        assert [float(v) for v in csv.body.decode().split()] == predict([[1, 1], [2, 2]])

    def test_a_handler_error_is_a_model_error_and_the_endpoint_keeps_serving(
        self, backend: base.Backend, endpoints: EndpointDriver, trained: dict[str, Any]
    ) -> None:
        name = endpoints.create(variant(trained))
        endpoints.in_service(name)
        with pytest.raises(ModelError, match="negative features"):
            backend.invoke_endpoint(name, b"[[-1, 2]]", content_type="application/json")
        result = backend.invoke_endpoint(name, b"[[1, 2]]", content_type="application/json")
        assert json.loads(result.body) == predict([[1, 2]])
        assert endpoints.describe(name)["EndpointStatus"] == statuses.IN_SERVICE

    def test_add_a_variant_then_reweigh_and_target_it(
        self, backend: base.Backend, endpoints: EndpointDriver, trained: dict[str, Any]
    ) -> None:
        name = endpoints.create(variant(trained))
        endpoints.in_service(name)
        backend.update_endpoint(
            name, [variant(trained, weight=0.5), variant(trained, "b", weight=0.5)]
        )
        assert endpoints.describe(name)["EndpointStatus"] in (
            statuses.UPDATING,
            statuses.IN_SERVICE,
        )
        description = endpoints.in_service(name)
        assert weights(description) == {DEFAULT_VARIANT: 0.5, "b": 0.5}

        backend.update_endpoint(
            name, [variant(trained, weight=0.9), variant(trained, "b", weight=0.1)]
        )
        description = endpoints.in_service(name)
        assert weights(description) == {DEFAULT_VARIANT: 0.9, "b": 0.1}
        assert [v["DesiredWeight"] for v in description["ProductionVariants"]] == [0.9, 0.1]
        record = ledger_of(backend).get_endpoint(name)
        assert record.status == statuses.IN_SERVICE
        assert {v["VariantName"]: v["CurrentWeight"] for v in record.variants} == weights(
            description
        )
        for target in ("b", DEFAULT_VARIANT):
            result = backend.invoke_endpoint(
                name, b"[[2, 2]]", content_type="application/json", target_variant=target
            )
            assert (json.loads(result.body), result.variant) == (predict([[2, 2]]), target)

    def test_delete_leaves_nothing_and_the_ledger_row_deleted(
        self, backend: base.Backend, harness: Harness, endpoints: EndpointDriver, trained: Any
    ) -> None:
        name = endpoints.create(variant(trained))
        endpoints.in_service(name)
        backend.delete_endpoint(name)
        with pytest.raises(NotFound):
            backend.describe_endpoint(name)
        record = ledger_of(backend).get_endpoint(name)
        assert record.status == statuses.DELETED
        assert record.deleted_at is not None
        harness.assert_endpoint_gone(name)
        with pytest.raises(NotFound):
            backend.delete_endpoint(name)
        with pytest.raises(NotFound):
            backend.invoke_endpoint(name, b"[[1, 2]]", content_type="application/json")
        # The name is free again.
        endpoints.create(variant(trained), name=name)
        endpoints.in_service(name)

    def test_an_endpoint_removed_out_of_band_reads_deleted(
        self, backend: base.Backend, harness: Harness, endpoints: EndpointDriver, trained: Any
    ) -> None:
        name = endpoints.create(variant(trained))
        endpoints.in_service(name)
        harness.remove_out_of_band("endpoint", name)
        assert_reads_deleted(backend, "endpoint", name)
        endpoints.create(variant(trained), name=name)  # the name is free again
        endpoints.in_service(name)

    def test_the_row_has_everything_from_the_spec_ttl_in_seconds(
        self, backend: base.Backend, endpoints: EndpointDriver, trained: dict[str, Any]
    ) -> None:
        """``create_endpoint`` writes the whole row: nobody above the backend adds to it."""
        name = unique_name("conf-ep")
        spec = EndpointSpec(name=name, variants=[variant(trained)], ttl=3600)
        backend.create_endpoint(spec)
        endpoints.names.append(name)
        record = ledger_of(backend).get_endpoint(name)
        assert record.spec["ttl"] == 3600
        assert record.spec["variants"] == [v.to_json() for v in spec.variants]
        assert "async" not in record.spec
        assert record.ttl_at == pytest.approx(record.created_at + 3600)
        assert [v["VariantName"] for v in record.variants] == [DEFAULT_VARIANT]
        endpoints.in_service(name)
        wanted = [variant(trained, weight=0.5), variant(trained, "b", weight=0.5)]
        backend.update_endpoint(name, wanted)
        record = ledger_of(backend).get_endpoint(name)
        assert record.spec["variants"] == [v.to_json() for v in wanted]
        assert record.spec["ttl"] == 3600

    def test_variant_env_values_live_in_the_backend_not_the_ledger(
        self, backend: base.Backend, endpoints: EndpointDriver, trained: dict[str, Any]
    ) -> None:
        """The ledger keeps ``--env`` names only; ``variant_environments`` has the values
        (what an A/B update redeploys an existing variant with)."""
        secret = "s3cr3t-" + uuid.uuid4().hex
        first = variant(trained)
        first.environment = {"API_TOKEN": secret}
        name = endpoints.create(first)
        record = ledger_of(backend).get_endpoint(name)
        assert record is not None
        assert record.spec["variants"][0]["environment"] == {"API_TOKEN": REDACTED}
        assert backend.variant_environments(name)[first.name]["API_TOKEN"] == secret
        with pytest.raises(NotFound):
            backend.variant_environments(unique_name("no-such-ep"))

    def test_a_taken_name_is_refused_and_the_first_endpoint_keeps_serving(
        self, backend: base.Backend, endpoints: EndpointDriver, trained: dict[str, Any]
    ) -> None:
        name = endpoints.create(variant(trained))
        before = endpoints.in_service(name)
        with pytest.raises(AlreadyExists):
            endpoints.create(variant(trained, "other"), name=name)
        after = endpoints.in_service(name)
        assert after["ProductionVariants"] == before["ProductionVariants"]
        assert after["EndpointArn"] == before["EndpointArn"]
        result = backend.invoke_endpoint(name, b"[[1, 1]]", content_type="application/json")
        assert result.variant == DEFAULT_VARIANT

    def test_an_unknown_endpoint_is_not_found(self, backend: base.Backend) -> None:
        name = unique_name("ghost-ep")
        with pytest.raises(NotFound):
            backend.describe_endpoint(name)
        with pytest.raises(NotFound):
            backend.delete_endpoint(name)
        with pytest.raises(NotFound):
            backend.invoke_endpoint(name, b"[[1]]", content_type="application/json")
        with pytest.raises(NotFound):
            backend.read_endpoint_logs(name)
        with pytest.raises(NotFound):
            backend.update_endpoint(name, [VariantSpec(model_data="s3://no-bucket/model.tar.gz")])
        assert ledger_of(backend).get_endpoint(name) is None

    def test_a_missing_model_is_refused_and_leaves_nothing(
        self,
        backend: base.Backend,
        harness: Harness,
        trained: dict[str, Any],
        tmp_path: Any,
    ) -> None:
        name = unique_name("conf-ep")
        missing = VariantSpec(
            model_data=str(tmp_path / "no-such-model.tar.gz"), job=trained["TrainingJobName"]
        )
        with pytest.raises(InvalidRequest):
            backend.create_endpoint(EndpointSpec(name=name, variants=[missing]))
        assert ledger_of(backend).get_endpoint(name) is None
        harness.assert_endpoint_gone(name)
        with pytest.raises(NotFound):
            backend.describe_endpoint(name)


# -- batch transform --------------------------------------------------------------------------


class TransformScenarios:
    """``create/describe/stop_transform_job``."""

    @pytest.fixture
    def trained(self, harness: Harness) -> dict[str, Any]:
        """The description of a completed job whose model the transforms run."""
        _, description, _ = run_to_end(harness, Behaviour())
        assert description["TrainingJobStatus"] == statuses.COMPLETED, description
        return description

    def test_a_transform_completes_with_one_output_per_input_file(
        self, backend: base.Backend, harness: Harness, trained: dict[str, Any]
    ) -> None:
        files = {"a.csv": "1,2\n3,4\n", "b.csv": "0.5,0.5\n"}
        input_uri, output_uri = harness.transform_io(files)
        name = unique_name("conf-tj")
        backend.create_transform_job(
            TransformSpec(
                name=name,
                model=variant(trained),
                input_uri=input_uri,
                output_uri=output_uri,
                content_type="text/csv",
                accept="text/csv",
            )
        )
        record = ledger_of(backend).get_job(name)
        assert (record.kind, record.backend, record.status) == (
            "transform",
            backend.name,
            statuses.IN_PROGRESS,
        )

        def ended() -> dict[str, Any] | None:
            description = backend.describe_transform_job(name)
            assert description["TransformJobName"] == name
            assert description["TransformJobStatus"] in TRAINING_STATUSES, description
            return (
                description if kinds.status_of(description) in statuses.TERMINAL_STATUSES else None
            )

        description = wait_for(ended, f"transform {name} to end")
        assert description["TransformJobStatus"] == statuses.COMPLETED, description
        outputs = harness.transform_outputs(output_uri)
        assert sorted(outputs) == ["a.csv.out", "b.csv.out"]
        for source, text in files.items():
            rows = [[float(v) for v in line.split(",")] for line in text.splitlines()]
            assert [float(v) for v in outputs[f"{source}.out"].split()] == predict(rows)
        record = ledger_of(backend).get_job(name)
        assert record.status == statuses.COMPLETED
        # A write of the row that was missed (the runner killed between its state and its
        # row; %sm_jobs showed InProgress after --wait said Completed): describe repairs it.
        ledger_of(backend).update_job(
            name, status=statuses.IN_PROGRESS, secondary_status=statuses.IN_PROGRESS
        )
        backend.describe_transform_job(name)
        assert ledger_of(backend).get_job(name).status == statuses.COMPLETED
        backend.stop_transform_job(name)  # ended: nothing to do
        assert backend.describe_transform_job(name)["TransformJobStatus"] == statuses.COMPLETED

    def test_a_transform_removed_out_of_band_reads_deleted(
        self, backend: base.Backend, harness: Harness, trained: dict[str, Any]
    ) -> None:
        input_uri, output_uri = harness.transform_io({"a.csv": "1,2\n"})
        name = unique_name("conf-tj")
        backend.create_transform_job(
            TransformSpec(
                name=name, model=variant(trained), input_uri=input_uri, output_uri=output_uri
            )
        )
        wait_for(
            lambda: (
                kinds.status_of(backend.describe_transform_job(name)) in statuses.TERMINAL_STATUSES
            ),
            f"transform {name} to end",
        )
        harness.remove_out_of_band("transform", name)
        assert_reads_deleted(backend, "transform", name)

    def test_an_unknown_transform_is_not_found(self, backend: base.Backend) -> None:
        name = unique_name("ghost-tj")
        with pytest.raises(NotFound):
            backend.describe_transform_job(name)
        with pytest.raises(NotFound):
            backend.stop_transform_job(name)


# -- processing -------------------------------------------------------------------------------

_PROCESSING_SCRIPT = '''\
"""A conformance processing script: doubles every number of every input file."""

import argparse
import json
import os
import time
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--data")
parser.add_argument("--out")
parser.add_argument("--config")
parser.add_argument("--fail")
args = parser.parse_args()
host = json.loads(Path(args.config).read_text())["current_host"]
data = Path(args.data)
files = sorted(p.relative_to(data).as_posix() for p in data.rglob("*") if p.is_file())
print(f"SEEN {host} {json.dumps(files)}", flush=True)
gate = os.environ.get("__GATE_ENV__")
if gate:
    while not Path(gate).exists():
        time.sleep(0.02)
if args.fail:
    raise ValueError(args.fail)
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
for name in files:
    rows = [[float(v) * 2 for v in line.split(",")] for line in (data / name).read_text().split()]
    (out / name).write_text("".join(",".join(str(v) for v in row) + "\\n" for row in rows))
(out / f"{host}.txt").write_text("\\n".join(files))
'''
#: Where the conformance processing script reads, writes and finds its host name.
PROCESSING_ARGS = (
    "--data",
    "/opt/ml/processing/input/data",
    "--out",
    "/opt/ml/processing/output/result",
    "--config",
    "/opt/ml/config/resourceconfig.json",
)


def processing_spec(
    harness: Harness,
    input_uri: str,
    *,
    hosts: int = 1,
    distribution: str = processing.FULLY_REPLICATED,
    fail: str | None = None,
    gated: bool = False,
) -> processing.ProcessingSpec:
    """Return the spec of a conformance processing job over ``input_uri``."""
    spec = processing.ProcessingSpec.create(
        name=unique_name("conf-pj"),
        entry_point="process.py",
        script=_PROCESSING_SCRIPT.replace("__GATE_ENV__", GATE_ENV),
        inputs=[processing.ProcessingInput("data", input_uri, "input/data", distribution)],
        outputs=[processing.ProcessingOutput("result", "output/result")],
        arguments=[*PROCESSING_ARGS, *(("--fail", fail) if fail else ())],
        instance_count=hosts,
    )
    harness.prepare_processing(spec, gated=gated)
    return spec


def wait_processing(backend: base.Backend, name: str) -> dict[str, Any]:
    """Describe a processing job until it ended, checking the contract's words; return it."""

    def ended() -> dict[str, Any] | None:
        description = backend.describe_processing_job(name)
        assert description["ProcessingJobName"] == name
        assert description["ProcessingJobStatus"] in TRAINING_STATUSES, description
        return description if kinds.status_of(description) in statuses.TERMINAL_STATUSES else None

    result: dict[str, Any] = wait_for(ended, f"processing job {name} to end")
    return result


def processing_logs(backend: base.Backend, name: str) -> list[LogEvent]:
    """Read an ended processing job's logs to the end."""
    events: list[LogEvent] = []
    cursor = None
    for _ in range(100):
        batch = backend.read_processing_logs(name, cursor)
        cursor = batch.cursor
        if not batch.events:
            return events
        events += batch.events
    raise AssertionError(f"the logs of {name} never ended")


DATA = {"a.csv": "1,2\n3,4\n", "b.csv": "0.5,0.5\n", "c.csv": "10,0\n", "d.csv": "2,2\n"}


def doubled(text: str) -> list[list[float]]:
    return [[float(v) * 2 for v in line.split(",")] for line in text.split()]


def as_rows(text: str) -> list[list[float]]:
    return [[float(v) for v in line.split(",")] for line in text.split()]


class ProcessingScenarios:
    """``create/describe/stop_processing_job`` and ``read_processing_logs``."""

    def test_a_processing_job_stores_its_outputs_where_the_next_step_reads(
        self, backend: base.Backend, harness: Harness
    ) -> None:
        spec = processing_spec(harness, harness.processing_input(DATA))
        backend.create_processing_job(spec)
        record = ledger_of(backend).get_job(spec.name)
        assert (record.kind, record.backend, record.status) == (
            "processing",
            backend.name,
            statuses.IN_PROGRESS,
        )
        description = wait_processing(backend, spec.name)
        assert description["ProcessingJobStatus"] == statuses.COMPLETED, description
        uri = processing.output_uris(description)["result"]
        outputs = harness.processing_outputs(uri)
        assert sorted(outputs) == sorted([*DATA, "algo-1.txt"])
        for name, text in DATA.items():
            assert as_rows(outputs[name]) == doubled(text)
        record = ledger_of(backend).get_job(spec.name)
        assert record.status == statuses.COMPLETED and record.ended_at
        assert kinds.resources_of(description) == (spec.instance_type, 1)
        seen = [e for e in processing_logs(backend, spec.name) if e.message.startswith("SEEN")]
        assert [(e.host, e.message) for e in seen] == [
            ("algo-1", f"SEEN algo-1 {json.dumps(sorted(DATA))}")
        ]
        backend.stop_processing_job(spec.name)  # ended: nothing to do
        assert kinds.status_of(backend.describe_processing_job(spec.name)) == statuses.COMPLETED

    def test_a_sharded_input_gives_each_host_its_share_and_logs_name_the_host(
        self, backend: base.Backend, harness: Harness
    ) -> None:
        spec = processing_spec(
            harness,
            harness.processing_input(DATA),
            hosts=2,
            distribution=processing.SHARDED_BY_S3_KEY,
        )
        backend.create_processing_job(spec)
        description = wait_processing(backend, spec.name)
        assert description["ProcessingJobStatus"] == statuses.COMPLETED, description
        outputs = harness.processing_outputs(processing.output_uris(description)["result"])
        shares = {h: outputs[f"{h}.txt"].split() for h in ("algo-1", "algo-2")}
        assert all(shares.values()), shares
        assert sorted(shares["algo-1"] + shares["algo-2"]) == sorted(DATA)  # each file once
        assert sorted(n for n in outputs if n.endswith(".csv")) == sorted(DATA)
        hosts = {
            e.host for e in processing_logs(backend, spec.name) if e.message.startswith("SEEN")
        }
        assert hosts == {"algo-1", "algo-2"}

    def test_a_fully_replicated_input_reaches_every_host(
        self, backend: base.Backend, harness: Harness
    ) -> None:
        spec = processing_spec(harness, harness.processing_input(DATA), hosts=2)
        backend.create_processing_job(spec)
        description = wait_processing(backend, spec.name)
        assert description["ProcessingJobStatus"] == statuses.COMPLETED, description
        outputs = harness.processing_outputs(processing.output_uris(description)["result"])
        assert outputs["algo-1.txt"].split() == outputs["algo-2.txt"].split() == sorted(DATA)

    def test_a_failing_processing_job_fails_stores_nothing_and_logs_the_error(
        self, backend: base.Backend, harness: Harness
    ) -> None:
        spec = processing_spec(harness, harness.processing_input(DATA), fail="bad rows")
        backend.create_processing_job(spec)
        description = wait_processing(backend, spec.name)
        assert description["ProcessingJobStatus"] == statuses.FAILED
        assert description["FailureReason"]
        assert harness.processing_outputs(processing.output_uris(description)["result"]) == {}
        assert any("ValueError: bad rows" in e.message for e in processing_logs(backend, spec.name))
        assert ledger_of(backend).get_job(spec.name).status == statuses.FAILED

    def test_stop_ends_a_processing_job_stopped_and_is_idempotent(
        self, backend: base.Backend, harness: Harness
    ) -> None:
        spec = processing_spec(harness, harness.processing_input(DATA), gated=True)
        backend.create_processing_job(spec)
        backend.stop_processing_job(spec.name)
        status = kinds.status_of(backend.describe_processing_job(spec.name))
        assert status in (statuses.STOPPING, statuses.STOPPED)
        assert wait_processing(backend, spec.name)["ProcessingJobStatus"] == statuses.STOPPED
        backend.stop_processing_job(spec.name)
        assert ledger_of(backend).get_job(spec.name).status == statuses.STOPPED

    def test_an_unknown_processing_job_is_not_found(self, backend: base.Backend) -> None:
        name = unique_name("ghost-pj")
        with pytest.raises(NotFound):
            backend.describe_processing_job(name)
        with pytest.raises(NotFound):
            backend.stop_processing_job(name)

    def test_a_missing_input_is_refused_and_leaves_nothing(
        self, backend: base.Backend, harness: Harness
    ) -> None:
        spec = processing_spec(harness, harness.processing_input(DATA))
        spec.inputs = [
            processing.ProcessingInput("data", "/no/such/data", "/opt/ml/processing/input/data")
        ]
        with harness.nothing_created(spec.name, kind="processing"), pytest.raises(InvalidRequest):
            backend.create_processing_job(spec)


# -- model registry ---------------------------------------------------------------------------


class RegistryScenarios:
    """``register_model``, ``set_model_approval``, ``list_model_packages``.

    The versions of a group are numbered from 1 in order, start with the approval asked
    for, record who changed them, list newest first, and keep the job they came from.
    """

    @pytest.fixture
    def trained(self, harness: Harness) -> dict[str, Any]:
        """The description of a completed job: the model every version here registers."""
        _, description, _ = run_to_end(harness, Behaviour())
        assert description["TrainingJobStatus"] == statuses.COMPLETED, description
        return description

    def _spec(self, trained: dict[str, Any], group: str, **kw: Any) -> Any:
        from sm_magics.backends.packages import PackageSpec

        return PackageSpec(
            group=group,
            model_data=trained["ModelArtifacts"]["S3ModelArtifacts"],
            source_job=trained["TrainingJobName"],
            **kw,
        )

    def test_versions_are_numbered_and_listed_newest_first(
        self, backend: base.Backend, trained: dict[str, Any]
    ) -> None:
        group = unique_name("conf-models")
        first = backend.register_model(self._spec(trained, group), by="alice@host")
        second = backend.register_model(
            self._spec(trained, group, approval="Approved", metrics={"acc": 0.5}), by="bob@host"
        )
        assert (first.version, second.version) == (1, 2)
        assert (first.status, second.status) == ("PendingManualApproval", "Approved")
        assert first.source_job == trained["TrainingJobName"]
        assert second.metrics == {"acc": 0.5}
        assert first.arn != second.arn and first.arn.endswith(f"{group}/1")
        listed = backend.list_model_packages(group)
        assert [p.version for p in listed] == [2, 1]
        assert [p.history[0]["by"] for p in listed] == ["bob@host", "alice@host"]

    def test_approval_changes_status_and_records_who(
        self, backend: base.Backend, trained: dict[str, Any]
    ) -> None:
        group = unique_name("conf-approve")
        version = backend.register_model(self._spec(trained, group), by="alice@host")
        approved = backend.set_model_approval(version.arn, "Approved", by="bob@host", note="ok")
        assert approved.status == "Approved"
        assert [(h["status"], h["by"]) for h in approved.history] == [
            ("PendingManualApproval", "alice@host"),
            ("Approved", "bob@host"),
        ]
        rejected = backend.set_model_approval(version.arn, "Rejected", by="carol@host")
        assert rejected.status == "Rejected"
        [listed] = backend.list_model_packages(group)
        assert listed.status == "Rejected"

    def test_an_unknown_version_is_not_found(self, backend: base.Backend) -> None:
        arn = "arn:aws:sagemaker:us-east-1:000000000000:model-package/conf-none/7"
        with pytest.raises(NotFound):
            backend.set_model_approval(arn, "Approved", by="x@host")


# -- hyperparameter tuning --------------------------------------------------------------------


class TuningScenarios:
    """``create/describe/stop_tuning_job`` and ``list_tuning_trials``, as SageMaker words them.

    What every backend must agree on: the request it accepted is what describe echoes
    (strategy, objective, limits, ranges, early stopping), the ledger has the job as kind
    ``tuning``, an unknown name is ``NotFound``, and a refused spec leaves nothing. Running
    trials to a best one is the local tuner's own work (tests/tuning) and SageMaker's; the
    notebooks run it end to end on both (tests/sagemaker/test_mlops_notebooks_on_moto.py).
    """

    def _spec(self, harness: Harness, **kw: Any) -> Any:
        from sm_magics.tuning import ranges
        from sm_magics.tuning.spec import TuningSpec

        name = unique_name("conf-tune")[:32]
        training = harness.training_spec(
            Behaviour(before=("score=0.5",)),
            name=name,
            metric_definitions={"score": r"score=([0-9.]+)"},
        )
        options: dict[str, Any] = {"max_jobs": 2, "max_parallel": 1, "early_stopping": "Auto"}
        options.update(kw)
        return TuningSpec(
            name,
            training,
            "score",
            ranges.parse_ranges(["lr=0.001:0.1:log", "depth=1..3", "kind=a,b"]),
            **options,
        )

    def test_describe_echoes_the_request_and_the_ledger_has_it(
        self, backend: base.Backend, harness: Harness
    ) -> None:
        spec = self._spec(harness)
        backend.create_tuning_job(spec)
        description = backend.describe_tuning_job(spec.name)
        assert description["HyperParameterTuningJobName"] == spec.name
        assert description["HyperParameterTuningJobStatus"] in (
            "InProgress",
            "Completed",
            "Failed",
            "Stopping",
            "Stopped",
        )
        config = description["HyperParameterTuningJobConfig"]
        assert config["Strategy"] == "Bayesian"
        assert config["HyperParameterTuningJobObjective"] == {
            "Type": "Maximize",
            "MetricName": "score",
        }
        assert config["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 2
        assert config["ResourceLimits"]["MaxParallelTrainingJobs"] == 1
        assert config["TrainingJobEarlyStoppingType"] == "Auto"
        ranges = config["ParameterRanges"]
        assert ranges["ContinuousParameterRanges"][0]["ScalingType"] == "Logarithmic"
        assert ranges["IntegerParameterRanges"][0]["MinValue"] == "1"
        assert ranges["CategoricalParameterRanges"][0]["Values"] == ["a", "b"]
        record = ledger_of(backend).get_job(spec.name)
        assert record is not None and (record.kind, record.backend) == ("tuning", backend.name)
        with contextlib.suppress(Exception):
            backend.stop_tuning_job(spec.name)

    def test_an_unknown_tuning_job_is_not_found(self, backend: base.Backend) -> None:
        with pytest.raises(NotFound):
            backend.describe_tuning_job("conf-tune-none")

    def test_a_name_taken_is_refused_and_nothing_changes(
        self, backend: base.Backend, harness: Harness
    ) -> None:
        spec = self._spec(harness)
        backend.create_tuning_job(spec)
        with pytest.raises(AlreadyExists):
            backend.create_tuning_job(spec)
        record = ledger_of(backend).get_job(spec.name)
        assert record is not None and record.kind == "tuning"
        with contextlib.suppress(Exception):
            backend.stop_tuning_job(spec.name)
