"""Endpoints under load while things break: dead workers, crash loops, updates, a dead router.

A few threads post continuously (bounded in count and time, every request with a socket
timeout) while a test kills processes or changes the configuration. What is asserted is
what a client sees: which requests failed and how, and that the endpoint heals or fails
instead of hanging. No duration is asserted; timeouts only keep a broken run from hanging.
"""

from __future__ import annotations

import os
import signal
import time

from .conftest import (
    MODEL_FN,
    ROW_CLASS,
    Endpoints,
    Load,
    invoke,
    port_closed,
    running,
    wait_until,
    worker_pids,
)

#: The iris model with a few milliseconds per prediction, so that workers are busy (and a
#: worker killed under load is almost always killed in the middle of a request).
SLOW = (
    MODEL_FN
    + """

import time


def predict_fn(data, model):
    time.sleep(0.005)
    return model.predict(data)
"""
)

#: A worker that dies on every request, as a segfaulting native library would.
CRASHING = (
    MODEL_FN
    + """

import os


def predict_fn(data, model):
    os._exit(1)
"""
)


def ledger_status(endpoints: Endpoints, name: str) -> str | None:
    """Return the status of the endpoint's newest ledger row."""
    record = endpoints.backend.ledger.get_endpoint(name)
    return None if record is None else record.status


def test_a_killed_worker_fails_no_request_when_another_can_take_it(endpoints: Endpoints) -> None:
    name = endpoints.deploy(endpoints.variant(script=endpoints.script(SLOW), count=2))
    url = endpoints.url(name)
    before = endpoints.workers(name)
    assert len(before) == 2
    victim = min(before)

    with Load(url, threads=4) as load:
        load.wait_count(100)
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        healed = endpoints.wait(
            name,
            lambda d: (
                d["ProductionVariants"][0]["CurrentInstanceCount"] == 2
                and len(endpoints.workers(name) - before) == 1
            ),
            "a new worker to replace the killed one",
        )
        load.wait_count(100)
    results = load.results

    assert [r for r in results if not r.ok] == [], endpoints.debug(name)
    assert sum(r.started > killed_at for r in results) >= 100
    assert healed["EndpointStatus"] == "InService"
    after = endpoints.workers(name)
    assert victim not in after and not running(victim)
    assert len(after) == 2 and len(after & before) == 1
    router_log = (endpoints.home / "endpoints" / name / "router.log").read_text()
    assert "exited (-9); restarting" in router_log


def test_with_one_worker_requests_during_the_respawn_succeed_or_fail_never_hang(
    endpoints: Endpoints,
) -> None:
    name = endpoints.deploy(endpoints.variant(script=endpoints.script(SLOW), count=1))
    url = endpoints.url(name)
    [victim] = endpoints.workers(name)

    with Load(url, threads=3, timeout=60) as load:
        load.wait_count(50)
        os.kill(victim, signal.SIGKILL)
        endpoints.wait(
            name,
            lambda d: (
                d["ProductionVariants"][0]["CurrentInstanceCount"] == 1
                and endpoints.workers(name) - {victim}
            ),
            "the worker to be replaced",
        )
        healed_at = time.monotonic()
        load.wait_count(50)
    results = load.results

    # No request hung; the one in flight when the worker died may fail, with an answer.
    assert not [r for r in results if r.error == "timeout"]
    failed = [r for r in results if not r.ok]
    assert len(failed) <= 1, failed
    assert all(r.status == 500 for r in failed), failed
    # Serving again: everything sent after the respawn succeeded.
    after = [r for r in results if r.started > healed_at]
    assert len(after) >= 50 and all(r.ok for r in after)
    assert invoke(url).json() == [ROW_CLASS]


def test_a_worker_that_crashes_on_every_request_fails_the_endpoint(endpoints: Endpoints) -> None:
    name = endpoints.deploy(endpoints.variant(script=endpoints.script(CRASHING)))
    url = endpoints.url(name)
    router = endpoints.router_pid(name)

    outcomes = []
    for _ in range(20):  # each request kills a worker or two; the router gives up first
        try:
            outcomes.append(invoke(url).status)
        except OSError as exc:  # the router ended while the request waited: not a hang
            assert not isinstance(exc, TimeoutError), "a request hung"
            outcomes.append(type(exc).__name__)
        if endpoints.describe(name)["EndpointStatus"] == "Failed":
            break
    description = endpoints.wait_status(name, ("Failed",))
    assert 200 not in outcomes
    assert "crashed" in description["FailureReason"], description
    assert ledger_status(endpoints, name) == "Failed"
    wait_until(lambda: not running(router), what="the router to exit")
    wait_until(lambda: not worker_pids(router), what="the workers to exit")
    assert port_closed(url)


def test_variants_shift_under_load_without_a_failed_request(endpoints: Endpoints) -> None:
    script = endpoints.script(SLOW)
    name = endpoints.deploy(endpoints.variant("A", script=script))
    url = endpoints.url(name)

    with Load(url, threads=4) as load:
        load.wait_count(50)
        # 1. B joins (it is loaded and ready before it gets any traffic).
        endpoints.backend.update_endpoint(
            name, [endpoints.variant("A", script=script), endpoints.variant("B", script=script)]
        )
        endpoints.wait_updated(name)
        load.wait_count(100)
        # 2. All weight moves to B.
        endpoints.backend.update_endpoint(
            name,
            [
                endpoints.variant("A", script=script, weight=0.0),
                endpoints.variant("B", script=script, weight=1.0),
            ],
        )
        endpoints.wait_updated(name)
        shifted_at = time.monotonic()
        load.wait_count(100)
        # 3. A leaves: it drains while B takes everything.
        endpoints.backend.update_endpoint(name, [endpoints.variant("B", script=script)])
        description = endpoints.wait_updated(name)
        load.wait_count(100)
    results = load.results

    assert [r for r in results if not r.ok] == [], endpoints.debug(name)
    assert {r.variant for r in results} == {"A", "B"}
    assert {r.variant for r in results if r.started > shifted_at} == {"B"}
    assert [v["VariantName"] for v in description["ProductionVariants"]] == ["B"]


def test_removing_a_variant_under_load_strands_no_queued_request(endpoints: Endpoints) -> None:
    # With more clients than workers, requests queue for a variant's worker. A removed
    # variant must be drained of those too, not only of the one in flight: retiring it
    # while some wait left them waiting for a worker that never came (60 s, then a 500).
    script = endpoints.script()
    both = [endpoints.variant("A", script=script), endpoints.variant("B", script=script)]
    name = endpoints.deploy(*both)
    # 5 cycles (20 updates) is what fits the suite's 300 s on a busy 2-core machine, where
    # a worker takes up to 20 s to load: the load's own bound must outlast them.
    with Load(endpoints.url(name), threads=6, max_seconds=280, timeout=90) as load:
        for _ in range(5):
            load.wait_count(20)
            endpoints.backend.update_endpoint(name, [endpoints.variant("B", script=script)])
            endpoints.wait_updated(name)
            load.wait_count(20)
            endpoints.backend.update_endpoint(name, both)
            endpoints.wait_updated(name)
            if load.failures():
                break
    assert load.failures() == [], endpoints.debug(name)


def test_requests_in_flight_when_deleted_are_answered(endpoints: Endpoints) -> None:
    name = endpoints.deploy(endpoints.variant(script=endpoints.script(SLOW), count=2))
    url = endpoints.url(name)
    with Load(url, threads=4) as load:
        load.wait_count(100)
        deleting_at = time.monotonic()
        endpoints.backend.delete_endpoint(name)
    results = load.results

    assert not [r for r in results if r.error == "timeout"]
    # Before the delete everything succeeded; during it a request gets an answer (200, or
    # 400 "not InService" on a kept-alive connection) or a closed connection, never a 5xx.
    for result in results:
        assert result.status is None or result.status in (200, 400), result
        if result.status == 400:
            assert "Deleting" in (result.error or "") or "Deleted" in (result.error or "")
    assert all(r.ok for r in results if r.ended < deleting_at)
    assert port_closed(url)


def test_a_killed_router_is_reported_failed_and_its_workers_exit(endpoints: Endpoints) -> None:
    name = endpoints.deploy(endpoints.variant(count=2))
    url = endpoints.url(name)
    router = endpoints.router_pid(name)
    workers = endpoints.workers(name)
    assert len(workers) == 2

    os.kill(router, signal.SIGKILL)

    description = endpoints.wait_status(name, ("Failed",))
    assert "exited unexpectedly" in description["FailureReason"]
    assert ledger_status(endpoints, name) == "Failed"
    wait_until(lambda: not any(running(pid) for pid in workers), what="the workers to exit")
    assert port_closed(url)

    # A failed endpoint is still there until deleted, and delete cleans it up.
    endpoints.backend.delete_endpoint(name)
    assert ledger_status(endpoints, name) == "Deleted"
