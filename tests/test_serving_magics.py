"""The serving magics through a real IPython ``InteractiveShell``: ``%sm_deploy``,
``%sm_invoke``, ``%sm_endpoints``, ``%sm_delete``, ``%sm_batch`` and ``%sm_logs`` of
endpoints and batch jobs.

Two tiny models are trained once for the module with ``%%sm_train --wait``, so the tests of
this module share one ``SM_MAGICS_HOME`` (the tests that need an empty home switch to a
fresh one with :func:`fresh_home`). Every endpoint a test creates is deleted when the test
ends; one endpoint (``served``) lives for the whole module and is deleted at its end. Waits
poll with generous timeouts that only keep a broken endpoint from hanging the suite.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlparse

import helpers
import numpy as np
import pytest
from helpers import stop_followers
from IPython.core.error import StdinNotImplementedError, UsageError
from IPython.core.interactiveshell import InteractiveShell

from sm_magics import config, pricing
from sm_magics.api import STATUS_COLOURS, Job, JobTable, Session
from sm_magics.display.endpoints import EndpointTable
from sm_magics.endpoint import Endpoint
from sm_magics.errors import NotFound, SmMagicsError
from sm_magics.ledger import Ledger

WAIT = 120.0  # only against hangs; nothing asserts how long anything took

#: The training cell: a LogisticRegression on a few rows; ``model_fn`` at module level.
CELL_A = """\
import os

import joblib


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


if __name__ == "__main__":
    from sklearn.linear_model import LogisticRegression

    X = [[0, 0], [0, 1], [1, 0], [1, 1], [2, 2], [3, 3]]
    y = [0, 0, 0, 1, 1, 1]
    model = LogisticRegression().fit(X, y)
    joblib.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
    print("trained on", len(X), "rows")
"""

#: The same model, whose answers say they come from model B.
CELL_B = (
    CELL_A.split("if __name__")[0]
    + """def predict_fn(data, model):
    return ["b:%d" % label for label in model.predict(data)]


if __name__"""
    + CELL_A.split("if __name__")[1]
)

#: Rows with an unambiguous answer: [0, 0] is class 0, [3, 3] class 1.
ROWS = [[0, 0], [3, 3]]
ANSWER = [0, 1]

#: Handlers for a model given by path, whose answers are marked.
ENTRY_POINT = """\
import os

import joblib


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def predict_fn(data, model):
    return ["custom:%d" % label for label in model.predict(data)]
"""

#: Handlers that only load the model: the rest are the toolkit's defaults.
MODEL_FN = ENTRY_POINT.split("def predict_fn")[0].rstrip() + "\n"


# -- fixtures and helpers ----------------------------------------------------------------------


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    """Poll ``predicate`` until it returns something truthy; return that value."""
    return helpers.wait_until(predicate, timeout, what=what)


def unique(prefix: str = "ep") -> str:
    """Return an endpoint (or job) name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def live_endpoint_names() -> set[str]:
    """Return the names of the endpoints the current home's ledger says may be running."""
    ledger = Ledger()
    try:
        return {record.name for record in ledger.list_endpoints()}
    finally:
        ledger.close()


def delete_endpoints(names: set[str]) -> None:
    """Delete the endpoints ``names`` (those that still exist), then kill any leftover."""
    session = Session()
    try:
        for name in sorted(names):
            with contextlib.suppress(SmMagicsError):
                session.endpoint(name).delete()
    finally:
        session.ledger.close()


def kill_endpoint_processes(home: Path) -> None:
    """SIGKILL the process group of every router ever started under ``home`` (last resort)."""
    for pid_file in [
        *home.glob("endpoints/*/router.pid"),
        *home.glob("endpoints/.deleted/*/router.pid"),
    ]:
        with contextlib.suppress(OSError, ValueError):
            pgid = int(pid_file.read_text().split()[0])
            if not helpers.group_gone(pgid):
                os.killpg(pgid, signal.SIGKILL)


def cleanup_home(home: Path) -> None:
    """Delete every endpoint still live under ``home`` and kill whatever still runs."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SM_MAGICS_HOME", str(home))
        delete_endpoints(live_endpoint_names())
    kill_endpoint_processes(home)
    helpers.kill_leftovers(home)


@pytest.fixture(scope="module")
def module_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The ``SM_MAGICS_HOME`` of this module: the trained jobs live here."""
    home = helpers.new_home(tmp_path_factory)
    yield home
    cleanup_home(home)


@pytest.fixture(autouse=True)
def sm_home(module_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Override conftest's fresh home per test: this module's tests share its home."""
    monkeypatch.setenv("SM_MAGICS_HOME", str(module_home))
    monkeypatch.setenv("SM_MAGICS_STOP_GRACE", "1")
    monkeypatch.setenv("SM_MAGICS_MAX_LOCAL_JOBS", "4")
    yield module_home


@pytest.fixture(scope="module")
def shell() -> InteractiveShell:
    """The session's InteractiveShell, with the extension loaded."""
    ip = InteractiveShell.instance()
    if "ServingMagics" not in ip.magics_manager.registry:
        ip.run_line_magic("load_ext", "sm_magics")
    return ip


def reset_session(shell: InteractiveShell) -> None:
    """Make the next magic build its session (and ledger) from the current environment."""
    shell.magics_manager.registry["SageMakerMagics"]._session = None


@pytest.fixture(scope="module")
def jobs(shell: InteractiveShell, module_home: Path) -> SimpleNamespace:
    """Train the two models of the module (``a`` and ``b``), once."""
    names = SimpleNamespace(a=unique("model-a"), b=unique("model-b"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SM_MAGICS_HOME", str(module_home))
        reset_session(shell)
        try:
            for name, cell in ((names.a, CELL_A), (names.b, CELL_B)):
                job = shell.run_cell_magic("sm_train", f"{name} --wait", cell)
                assert isinstance(job, Job)
                assert job.status == "Completed", job.logs()
        finally:
            reset_session(shell)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SM_MAGICS_HOME", str(module_home))
        session = Session()
        names.model_a = session.job(names.a).model_data
        session.ledger.close()
    return names


@pytest.fixture(scope="module")
def served(shell: InteractiveShell, module_home: Path, jobs: SimpleNamespace) -> Iterator[str]:
    """One InService endpoint of model A, shared by the tests that only invoke it."""
    name = unique("served")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SM_MAGICS_HOME", str(module_home))
        reset_session(shell)
        try:
            shell.run_line_magic("sm_deploy", f"{jobs.a} -e {name} --wait")
        finally:
            reset_session(shell)
    yield name
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SM_MAGICS_HOME", str(module_home))
        delete_endpoints({name})


@pytest.fixture
def ip(shell: InteractiveShell, sm_home: Path) -> Iterator[InteractiveShell]:
    """The shell on this test's home; endpoints the test created are deleted afterwards."""
    before = live_endpoint_names()
    reset_session(shell)
    namespace_before = set(shell.user_ns)
    yield shell
    stop_followers()
    delete_endpoints(live_endpoint_names() - before)
    reset_session(shell)
    for name in set(shell.user_ns) - namespace_before:
        shell.user_ns.pop(name, None)


@pytest.fixture
def fresh_home(
    ip: InteractiveShell,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    module_home: Path,
) -> Iterator[Path]:
    """Switch this test to an empty home of its own (the module's jobs stay reachable by
    their ``model.tar.gz`` path)."""
    home = helpers.new_home(tmp_path_factory)
    monkeypatch.setenv("SM_MAGICS_HOME", str(home))
    reset_session(ip)
    yield home
    cleanup_home(home)
    monkeypatch.setenv("SM_MAGICS_HOME", str(module_home))
    reset_session(ip)


def deploy(ip: InteractiveShell, line: str) -> Endpoint:
    """Run ``%sm_deploy`` and return the Endpoint."""
    endpoint = ip.run_line_magic("sm_deploy", line)
    assert isinstance(endpoint, Endpoint)
    return endpoint


def invoke(ip: InteractiveShell, line: str) -> Any:
    """Run ``%sm_invoke`` and return the answer."""
    return ip.run_line_magic("sm_invoke", line)


def describe(name: str) -> dict[str, Any]:
    """Return ``DescribeEndpoint`` of ``name``."""
    session = Session()
    try:
        return session.endpoint(name).describe()
    finally:
        session.ledger.close()


def in_service(name: str) -> dict[str, Any]:
    """Wait until the endpoint is InService with every variant as desired; return it."""

    def applied() -> dict[str, Any] | None:
        description = describe(name)
        assert description["EndpointStatus"] != "Failed", description
        done = description["EndpointStatus"] == "InService" and all(
            v["CurrentWeight"] == v["DesiredWeight"]
            and v["CurrentInstanceCount"] == v["DesiredInstanceCount"]
            for v in description["ProductionVariants"]
        )
        return description if done else None

    result: dict[str, Any] = wait_for(applied, f"{name} to be InService as desired")
    return result


def variants(description: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the production variants by name."""
    return {v["VariantName"]: v for v in description["ProductionVariants"]}


def ledger_endpoint_status(name: str) -> str | None:
    """Return the ledger's status of endpoint ``name`` (None when it has no row)."""
    ledger = Ledger()
    try:
        record = ledger.get_endpoint(name)
        return record.status if record else None
    finally:
        ledger.close()


def port_refuses(url: str) -> bool:
    """Whether connecting to the URL's port is refused."""
    parsed = urlparse(url)
    assert parsed.hostname == "127.0.0.1" and parsed.port, url
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=5):
            return False
    except ConnectionRefusedError:
        return True


def write_script(folder: Path, text: str = ENTRY_POINT, name: str = "serve.py") -> Path:
    """Write a handler script into ``folder`` and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


# -- %sm_deploy --------------------------------------------------------------------------------


def test_deploy_returns_at_once_and_defaults_to_the_job_name(
    ip: InteractiveShell, jobs: SimpleNamespace
) -> None:
    endpoint = deploy(ip, jobs.a)
    assert endpoint.name == jobs.a
    assert endpoint.backend_name == "local"
    assert endpoint.status in ("Creating", "InService")
    description = in_service(jobs.a)
    assert description["EndpointName"] == jobs.a
    assert list(variants(description)) == ["AllTraffic"]
    assert invoke(ip, f"{jobs.a} {json.dumps(ROWS)}") == ANSWER


def test_deploy_wait_blocks_until_in_service_and_prints_the_url(
    ip: InteractiveShell, jobs: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    name = unique()
    endpoint = deploy(ip, f"{jobs.a} -e {name} --wait")
    assert endpoint.name == name
    assert endpoint.status == "InService"
    url = endpoint.url
    assert url is not None and url.startswith("http://127.0.0.1:")
    assert f"Endpoint {name}: InService at {url}" in capsys.readouterr().out.splitlines()


def test_deploy_instance_count_gives_that_many_workers(
    ip: InteractiveShell, jobs: SimpleNamespace
) -> None:
    name = unique()
    deploy(ip, f"{jobs.a} --endpoint {name} -n 2")
    description = in_service(name)
    variant = variants(description)["AllTraffic"]
    assert variant["CurrentInstanceCount"] == 2
    assert variant["DesiredInstanceCount"] == 2


def test_deploy_out_binds_the_endpoint(ip: InteractiveShell, jobs: SimpleNamespace) -> None:
    name = unique()
    endpoint = deploy(ip, f"{jobs.a} -e {name} -o my_endpoint --wait")
    assert ip.user_ns["my_endpoint"] is endpoint
    assert endpoint.name == name


def test_deploy_of_a_running_job_says_to_wait_for_it(ip: InteractiveShell, tmp_path: Path) -> None:
    flag = tmp_path / "go"
    cell = f"""\
    import pathlib
    import time

    for _ in range(6000):  # a guard: at most ten minutes
        if pathlib.Path({str(flag)!r}).exists():
            break
        time.sleep(0.1)
    """
    name = unique("running")
    job = ip.run_cell_magic("sm_train", name, textwrap.dedent(cell))
    assert isinstance(job, Job)
    try:
        with pytest.raises(UsageError, match="%sm_wait") as caught:
            ip.run_line_magic("sm_deploy", name)
        assert name in str(caught.value)
        assert ledger_endpoint_status(name) is None
    finally:
        flag.write_text("go")
        job.wait(WAIT, poll=0.05)
    assert job.status == "Completed"


def test_deploy_of_an_unknown_job_is_a_usage_error(ip: InteractiveShell) -> None:
    with pytest.raises(UsageError, match="no-such-job") as caught:
        ip.run_line_magic("sm_deploy", "no-such-job")
    assert "%sm_jobs" in str(caught.value)
    assert ledger_endpoint_status("no-such-job") is None


def test_deploy_of_a_missing_model_file_is_a_usage_error(
    ip: InteractiveShell, tmp_path: Path
) -> None:
    missing = (tmp_path / "nothing" / "model.tar.gz").as_uri()
    with pytest.raises(UsageError, match=r"nothing/model\.tar\.gz"):
        ip.run_line_magic("sm_deploy", f"{missing} -e {unique()}")


def test_deploy_of_a_model_path_with_an_entry_point(
    ip: InteractiveShell, jobs: SimpleNamespace, tmp_path: Path
) -> None:
    assert jobs.model_a.startswith("file://")
    script = write_script(tmp_path / "code")
    name = unique()
    endpoint = deploy(ip, f"{jobs.model_a} -e {name} --entry-point {script} --wait")
    assert endpoint.status == "InService"
    assert invoke(ip, f"{name} {json.dumps(ROWS)}") == ["custom:0", "custom:1"]


def test_deploy_to_an_existing_endpoint_needs_variant(
    ip: InteractiveShell, jobs: SimpleNamespace, served: str
) -> None:
    with pytest.raises(UsageError, match="--variant"):
        ip.run_line_magic("sm_deploy", f"{jobs.b} -e {served}")
    # Under its default name (the job's) too.
    deploy(ip, jobs.b)
    with pytest.raises(UsageError, match="--variant"):
        ip.run_line_magic("sm_deploy", jobs.b)
    description = in_service(served)
    assert list(variants(description)) == ["AllTraffic"]


def test_variant_adds_an_ab_variant_then_weights_move_all_traffic(
    ip: InteractiveShell, jobs: SimpleNamespace
) -> None:
    name = unique()
    deploy(ip, f"{jobs.a} -e {name} --wait")
    endpoint = deploy(ip, f"{jobs.b} -e {name} --variant b=0.2")
    assert endpoint.name == name
    description = in_service(name)
    weights = {n: v["CurrentWeight"] for n, v in variants(description).items()}
    assert weights == {"AllTraffic": 1.0, "b": 0.2}
    # Both variants serve; TargetVariant picks one.
    assert invoke(ip, f"{name} {json.dumps(ROWS)} --variant b") == ["b:0", "b:1"]
    assert invoke(ip, f"{name} {json.dumps(ROWS)} --variant AllTraffic") == ANSWER
    table = ip.run_line_magic("sm_endpoints", "")
    assert "AllTraffic=1, b=0.2" in repr(table)

    # Weights only, no model: every invocation goes to b afterwards.
    deploy(ip, f"-e {name} --variant AllTraffic=0 b=1")
    description = in_service(name)
    weights = {n: v["CurrentWeight"] for n, v in variants(description).items()}
    assert weights == {"AllTraffic": 0.0, "b": 1.0}
    answers = [invoke(ip, f"{name} [[0, 0]]") for _ in range(20)]
    assert answers == [["b:0"]] * 20


def test_variant_on_the_default_endpoint_name_updates_it(
    ip: InteractiveShell, jobs: SimpleNamespace
) -> None:
    """``%sm_deploy JOB --variant ...`` updates the endpoint named after the job."""
    deploy(ip, f"{jobs.b} --wait")
    endpoint = deploy(ip, f"{jobs.b} --variant second=1")
    assert endpoint.name == jobs.b
    description = in_service(jobs.b)
    assert sorted(variants(description)) == ["AllTraffic", "second"]


def test_variant_weight_must_be_a_number(ip: InteractiveShell, served: str) -> None:
    with pytest.raises(UsageError, match=r"--variant x= expects a number"):
        ip.run_line_magic("sm_deploy", f"-e {served} --variant x=abc")
    with pytest.raises(UsageError, match="--variant"):
        ip.run_line_magic("sm_deploy", f"-e {served} --variant x")
    description = in_service(served)
    assert list(variants(description)) == ["AllTraffic"]


def test_weights_of_an_unknown_variant_without_a_model(ip: InteractiveShell, served: str) -> None:
    with pytest.raises(UsageError, match="no variant 'zzz'"):
        ip.run_line_magic("sm_deploy", f"-e {served} --variant zzz=1")


@pytest.mark.slow
def test_ttl_deletes_the_endpoint_by_itself(ip: InteractiveShell, jobs: SimpleNamespace) -> None:
    name = unique()
    deploy(ip, f"{jobs.a} -e {name} --ttl 2s --wait")
    assert ledger_endpoint_status(name) in ("InService", "Deleting", "Deleted")
    wait_for(lambda: ledger_endpoint_status(name) == "Deleted", f"{name} to delete itself")
    table = ip.run_line_magic("sm_endpoints", "")
    assert name not in [row.name for row in table]
    with pytest.raises(UsageError):
        invoke(ip, f"{name} [[0, 0]]")
    # The name is free again.
    deploy(ip, f"{jobs.a} -e {name} --wait")
    assert invoke(ip, f"{name} [[0, 0]]") == [0]


@pytest.mark.parametrize(
    "line",
    [
        "{model} --entry-point {script} -e {name} --variant x=abc",
        "{model} --entry-point {script} -e {name} --variant b=-1",
        "{model} --entry-point {script} -e {name} --variant 'bad name=1'",
        "{model} --entry-point {tmp}/missing.py -e {name}",
        "{model} --entry-point {script} -e {name} -n 0",
        "{model} --entry-point {script} -e {name} --ttl soon",
        "{model} --entry-point {script} -e {name} -o 1x",
        "{model} --entry-point {script} -e bad_name!",
        "{model} --entry-point {script} -e {name} --unknown-flag",
        "no-such-job -e {name}",
        "{tmp}/nothing/model.tar.gz --entry-point {script} -e {name}",
        "-e {name} --variant AllTraffic=1",
        "",
    ],
)
def test_bad_input_creates_nothing(
    ip: InteractiveShell,
    fresh_home: Path,
    jobs: SimpleNamespace,
    tmp_path: Path,
    line: str,
) -> None:
    script = write_script(tmp_path / "code")
    name = unique()
    text = line.format(model=jobs.model_a, script=script, tmp=tmp_path, name=name)
    with pytest.raises(UsageError):
        ip.run_line_magic("sm_deploy", text)
    ledger = Ledger()
    try:
        assert ledger.list_endpoints(live_only=False) == []
    finally:
        ledger.close()
    assert not (fresh_home / "endpoints").exists()
    assert "1x" not in ip.user_ns


# -- %sm_invoke --------------------------------------------------------------------------------


def test_invoke_json_literal_with_spaces(ip: InteractiveShell, served: str) -> None:
    assert invoke(ip, f"{served} [[0, 0], [3, 3]]") == ANSWER
    assert invoke(ip, f"{served} [[0,0],[3,3]]") == ANSWER


def test_invoke_json_object_literal(ip: InteractiveShell, tmp_path: Path, jobs: Any) -> None:
    """A JSON literal with strings keeps its quotes (and ``}}`` is not a brace escape)."""
    script = write_script(
        tmp_path / "code",
        MODEL_FN
        + "\n\ndef predict_fn(data, model):\n"
        + "    return model.predict(data['rows']['values']).tolist()\n\n\n"
        + "def input_fn(body, content_type):\n"
        + "    import json\n\n"
        + "    return json.loads(body)\n",
    )
    name = unique()
    deploy(ip, f"{jobs.model_a} -e {name} --entry-point {script} --wait")
    assert invoke(ip, name + ' {"rows": {"values": [[0, 0], [3, 3]]}}') == ANSWER
    assert invoke(ip, name + """ '{"rows": {"values": [[3, 3]]}}'""") == [1]


def test_invoke_csv_literal(ip: InteractiveShell, served: str) -> None:
    assert invoke(ip, f"{served} 3,3") == [1]
    assert invoke(ip, f"{served} 0,0 --accept text/csv") == "0\n"


def test_invoke_numpy_variable_and_list_variable(ip: InteractiveShell, served: str) -> None:
    ip.user_ns["rows_array"] = np.array(ROWS)
    ip.user_ns["rows_list"] = [[3, 3], [0, 0]]
    assert invoke(ip, f"{served} {{rows_array}}") == ANSWER
    assert invoke(ip, f"{served} {{rows_list}}") == [1, 0]


def test_invoke_attribute_reference(ip: InteractiveShell, served: str) -> None:
    ip.user_ns["data"] = SimpleNamespace(test=SimpleNamespace(rows=np.array([[3, 3]])))
    assert invoke(ip, f"{served} {{data.test.rows}}") == [1]
    with pytest.raises(UsageError, match="no attribute 'nope'"):
        invoke(ip, f"{served} {{data.nope}}")


def test_invoke_files_take_their_type_from_the_extension(
    ip: InteractiveShell, served: str, tmp_path: Path
) -> None:
    (tmp_path / "rows.csv").write_text("0,0\n3,3\n")
    (tmp_path / "rows.json").write_text(json.dumps([[3, 3], [0, 0]]))
    assert invoke(ip, f"{served} @{tmp_path / 'rows.csv'}") == ANSWER
    assert invoke(ip, f"{served} @{tmp_path / 'rows.json'}") == [1, 0]
    with pytest.raises(UsageError, match="is not a file"):
        invoke(ip, f"{served} @{tmp_path / 'missing.csv'}")


def test_invoke_accept_csv_returns_text(ip: InteractiveShell, served: str) -> None:
    ip.user_ns["rows_array"] = np.array(ROWS)
    answer = invoke(ip, f"{served} {{rows_array}} --accept text/csv")
    assert answer == "0\n1\n"


def test_invoke_npy_request(ip: InteractiveShell, served: str) -> None:
    ip.user_ns["rows_array"] = np.array(ROWS)
    assert invoke(ip, f"{served} {{rows_array}} --content-type application/x-npy") == ANSWER
    answer = invoke(
        ip, f"{served} {{rows_array}} --content-type application/x-npy --accept application/x-npy"
    )
    assert isinstance(answer, np.ndarray)
    assert answer.tolist() == ANSWER


def test_invoke_out_binds_the_answer(ip: InteractiveShell, served: str) -> None:
    answer = invoke(ip, f"{served} [[3, 3]] -o prediction")
    assert answer == [1]
    assert ip.user_ns["prediction"] == [1]


def test_invoke_handler_error_is_a_usage_error_with_the_models_message(
    ip: InteractiveShell, served: str
) -> None:
    with pytest.raises(UsageError, match="3 features") as caught:
        invoke(ip, f"{served} [[1, 2, 3]]")
    assert "Traceback" not in str(caught.value)
    # The endpoint lives on.
    assert invoke(ip, f"{served} [[3, 3]]") == [1]


def test_invoke_endpoint_name_from_a_variable(ip: InteractiveShell, served: str) -> None:
    ip.user_ns["endpoint_name"] = served
    assert invoke(ip, "{endpoint_name} [[3, 3]]") == [1]


def test_invoke_unknown_endpoint_and_missing_variable(ip: InteractiveShell, served: str) -> None:
    with pytest.raises(UsageError, match="no-such-endpoint"):
        invoke(ip, "no-such-endpoint [[0, 0]]")
    with pytest.raises(UsageError, match="no variable 'missing'"):
        invoke(ip, f"{served} {{missing}}")
    with pytest.raises(UsageError):
        invoke(ip, f"{served} [[0, 0]] -o 1x")


# -- %sm_endpoints -----------------------------------------------------------------------------


def test_endpoints_table(ip: InteractiveShell, served: str) -> None:
    description = describe(served)
    table = ip.run_line_magic("sm_endpoints", "")
    assert isinstance(table, EndpointTable)
    text = repr(table)
    header, *lines = text.splitlines()
    for column in ("name", "status", "variants", "url", "cost/hour", "ttl"):
        assert column in header
    line = next(line for line in lines if line.startswith(served))
    cost = pricing.hourly_cost("ml.m5.large", 1, config.default_region(), usage="hosting")
    assert cost is not None
    for cell in (
        "local",
        "InService",
        "AllTraffic=1",
        description["Url"],
        pricing.format_usd(cost),
    ):
        assert cell in line
    html = table._repr_html_()
    assert served in html
    assert STATUS_COLOURS["InService"] in html
    assert "<table" in html


def test_endpoints_table_shows_ttl(ip: InteractiveShell, jobs: SimpleNamespace) -> None:
    name = unique()
    deploy(ip, f"{jobs.a} -e {name} --ttl 1h")
    row = next(row for row in ip.run_line_magic("sm_endpoints", "") if row.name == name)
    assert row.ttl_text.startswith(("59m", "1h"))


def test_endpoints_empty(ip: InteractiveShell, fresh_home: Path) -> None:
    table = ip.run_line_magic("sm_endpoints", "")
    assert len(table) == 0
    assert repr(table) == "No endpoints running."
    assert "No endpoints running." in table._repr_html_()


# -- %sm_delete --------------------------------------------------------------------------------


def test_delete_asks_first(
    ip: InteractiveShell,
    jobs: SimpleNamespace,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = unique()
    endpoint = deploy(ip, f"{jobs.a} -e {name} --wait")
    questions: list[str] = []

    def answer(text: str) -> Callable[[str], str]:
        def ask(prompt: str = "") -> str:
            questions.append(prompt)
            return text

        return ask

    monkeypatch.setattr("builtins.input", answer("n"))
    assert ip.run_line_magic("sm_delete", name) is None
    assert "Nothing deleted." in capsys.readouterr().out
    assert name in questions[0] and "[y/N]" in questions[0]
    assert endpoint.status == "InService"

    monkeypatch.setattr("builtins.input", answer("y"))
    ip.run_line_magic("sm_delete", name)
    assert "deleted" in capsys.readouterr().out
    assert ledger_endpoint_status(name) == "Deleted"


def test_delete_without_a_terminal_says_to_use_yes(
    ip: InteractiveShell, served: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_stdin(prompt: str = "") -> str:
        raise StdinNotImplementedError("input() is not supported here")

    monkeypatch.setattr("builtins.input", no_stdin)
    with pytest.raises(UsageError, match="--yes"):
        ip.run_line_magic("sm_delete", served)
    assert describe(served)["EndpointStatus"] == "InService"


def test_delete_unknown_endpoint(ip: InteractiveShell) -> None:
    with pytest.raises(UsageError, match="no-such-endpoint"):
        ip.run_line_magic("sm_delete", "no-such-endpoint --yes")


def test_delete_of_an_endpoint_already_deleted_says_so(
    ip: InteractiveShell, jobs: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    # Deleted from the side panel (or by its --ttl) before the cell runs: Run All goes on.
    name = unique()
    deploy(ip, f"{jobs.a} -e {name} --wait").delete()
    capsys.readouterr()
    assert ip.run_line_magic("sm_delete", f"{name} --yes") is None
    assert f"Endpoint {name} is already deleted" in capsys.readouterr().out


def test_watch_shows_a_live_view_of_a_job_or_an_endpoint(
    ip: InteractiveShell, jobs: SimpleNamespace, served: str
) -> None:
    job = ip.run_line_magic("sm_watch", jobs.a)
    assert isinstance(job, Job) and job.name == jobs.a
    endpoint = ip.run_line_magic("sm_watch", served)
    assert isinstance(endpoint, Endpoint) and endpoint.name == served
    with pytest.raises(UsageError, match="No job or live endpoint named 'nothing-here'"):
        ip.run_line_magic("sm_watch", "nothing-here")


def test_a_mistyped_flag_gets_a_suggestion(ip: InteractiveShell, jobs: SimpleNamespace) -> None:
    with pytest.raises(UsageError, match="Did you mean --input"):
        ip.run_line_magic("sm_batch", f"{jobs.a} --inptu data --output out")


def test_after_delete_nothing_listens_logs_remain_and_the_name_is_free(
    ip: InteractiveShell, jobs: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    name = unique()
    endpoint = deploy(ip, f"{jobs.a} -e {name} --wait")
    url = endpoint.url
    assert url is not None
    assert invoke(ip, f"{name} [[3, 3]]") == [1]
    capsys.readouterr()

    ip.run_line_magic("sm_delete", f"{name} --yes")
    assert port_refuses(url)
    assert ledger_endpoint_status(name) == "Deleted"
    assert name not in [row.name for row in ip.run_line_magic("sm_endpoints", "")]
    with pytest.raises(UsageError):
        invoke(ip, f"{name} [[3, 3]]")
    capsys.readouterr()

    ip.run_line_magic("sm_logs", name)
    logs = capsys.readouterr().out
    assert "[AllTraffic-1] Model loaded" in logs

    again = deploy(ip, f"{jobs.a} -e {name} --wait")
    assert again.status == "InService"
    assert invoke(ip, f"{name} [[0, 0]]") == [0]


def test_logs_of_a_live_endpoint(
    ip: InteractiveShell, served: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(UsageError):
        invoke(ip, f"{served} [[1, 2, 3]]")
    capsys.readouterr()
    ip.run_line_magic("sm_logs", served)
    logs = capsys.readouterr().out
    assert "[AllTraffic-1] Model loaded" in logs
    assert "3 features" in logs


# -- %sm_batch ---------------------------------------------------------------------------------


def test_batch_transforms_every_file(
    ip: InteractiveShell,
    jobs: SimpleNamespace,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "in"
    (source / "nested" / "deeper").mkdir(parents=True)
    (source / "first.csv").write_text("0,0\n3,3\n")
    (source / "nested" / "second.csv").write_text("3,3\n")
    (source / "nested" / "deeper" / "third.csv").write_text("0,0\n0,0\n3,3\n")
    output = tmp_path / "out"
    name = unique("batch")
    job = ip.run_line_magic(
        "sm_batch", f"{jobs.a} --input {source} --output {output} --name {name} --wait -o bj"
    )
    assert isinstance(job, Job)
    assert ip.user_ns["bj"] is job
    assert job.kind == "transform"
    assert job.name == name
    assert job.status == "Completed"
    results = {
        p.relative_to(output).as_posix(): p.read_text() for p in output.rglob("*") if p.is_file()
    }
    assert results == {
        "first.csv.out": "0\n1\n",
        "nested/second.csv.out": "1\n",
        "nested/deeper/third.csv.out": "0\n0\n1\n",
    }
    capsys.readouterr()

    table = ip.run_line_magic("sm_jobs", "")
    assert isinstance(table, JobTable)
    row = next(row for row in table if row.name == name)
    assert row.status == "Completed"
    assert name in repr(table)

    ip.run_line_magic("sm_logs", name)
    logs = capsys.readouterr().out
    assert "first.csv: 2 records" in logs
    assert "nested/deeper/third.csv: 3 records" in logs


def test_batch_without_wait_returns_at_once(
    ip: InteractiveShell, jobs: SimpleNamespace, tmp_path: Path
) -> None:
    source = tmp_path / "rows.csv"
    source.write_text("3,3\n")
    output = tmp_path / "out"
    script = write_script(tmp_path / "code", MODEL_FN)
    job = ip.run_line_magic(
        "sm_batch",
        f"{jobs.model_a} --input {source} --output {output} --entry-point {script}",
    )
    assert isinstance(job, Job)
    assert job.kind == "transform"
    assert job.name.startswith("sm-batch-")
    job.wait(WAIT, poll=0.05)
    assert job.status == "Completed", job.failure_reason
    assert (output / "rows.csv.out").read_text() == "1\n"


def test_batch_record_the_model_cannot_read_fails_the_job(
    ip: InteractiveShell,
    jobs: SimpleNamespace,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "in"
    (source / "sub").mkdir(parents=True)
    (source / "good.csv").write_text("0,0\n")
    (source / "sub" / "bad.csv").write_text("1,2,3\n")
    output = tmp_path / "out"
    name = unique("batch")
    with pytest.raises(UsageError, match=r"bad\.csv"):
        ip.run_line_magic(
            "sm_batch", f"{jobs.a} --input {source} --output {output} --name {name} --wait"
        )
    session = Session()
    try:
        job = session.job(name)
        assert job.kind == "transform"
        assert job.status == "Failed"
        reason = job.failure_reason
    finally:
        session.ledger.close()
    assert reason is not None
    assert "sub/bad.csv, line 1" in reason
    assert "3 features" in reason
    assert not (output / "sub" / "bad.csv.out").exists()
    capsys.readouterr()
    ip.run_line_magic("sm_logs", name)
    assert "bad.csv" in capsys.readouterr().out


def test_batch_output_inside_input_is_a_usage_error(
    ip: InteractiveShell, jobs: SimpleNamespace, tmp_path: Path
) -> None:
    source = tmp_path / "in"
    source.mkdir()
    (source / "rows.csv").write_text("0,0\n")
    name = unique("batch")
    with pytest.raises(UsageError, match="--output"):
        ip.run_line_magic(
            "sm_batch", f"{jobs.a} --input {source} --output {source / 'out'} --name {name}"
        )
    session = Session()
    try:
        with pytest.raises(NotFound):
            session.job(name)
    finally:
        session.ledger.close()
    assert not (source / "out").exists()


def test_batch_unknown_model_and_missing_input(
    ip: InteractiveShell, jobs: SimpleNamespace, tmp_path: Path
) -> None:
    with pytest.raises(UsageError, match="no-such-job"):
        ip.run_line_magic("sm_batch", f"no-such-job --input {tmp_path} --output {tmp_path}/o")
    with pytest.raises(UsageError, match=r"--input .*/missing"):
        ip.run_line_magic("sm_batch", f"{jobs.a} --input {tmp_path}/missing --output {tmp_path}/o")
    with pytest.raises(UsageError):
        ip.run_line_magic("sm_batch", f"{jobs.a} --output {tmp_path}/o")
