"""Local serving against ``mlflow models serve``: the same model, the same machine, the same run.

What is measured, for each model (a LogisticRegression and a 50-tree RandomForest on iris,
fitted once and given to both servers from the same joblib file):

1. latency at concurrency 1: p50 and p99 of one single-row JSON ``POST /invocations`` at
   a time, on one keep-alive connection;
2. throughput at concurrency N: requests per second (and p50/p99) with N keep-alive
   connections each sending its next request as soon as the previous one is answered;
3. our overhead beyond the model: our p50 at concurrency 1 minus the p50 of the same
   handler chain run in process (``Handlers.invoke``: default input_fn, ``model.predict``,
   default output_fn -- what the worker times as ``model_ms``, which the router does not
   expose over HTTP), and minus ``model.predict`` alone;
4. server CPU per request at concurrency N: user + system time of the server's whole
   process tree (router and workers; mlflow's CLI, uvicorn and its workers) over the phase,
   divided by the requests answered -- less sensitive than req/s to other load on the box.

mlflow runs twice: with the same number of worker processes as ours (``--workers``;
mlflow's ``-w``), and with one worker. uvicorn's multi-worker mode hands its workers a
listening socket whose ``proto`` is 0, so asyncio never sets ``TCP_NODELAY`` on accepted
connections, and every keep-alive response (headers and body are two writes) waits ~40 ms
for the client's delayed ACK (Kludex/uvicorn#3149). That is what ``mlflow models serve -w 2``
gives users, but comparing only against it would flatter us; ``-w 1`` is mlflow without
that trap. All servers are driven by the same asyncio load generator on 127.0.0.1 (raw
HTTP/1.1 on keep-alive connections, bounded by count and time). The request bodies carry
the same row: ours is ``[[5.1, 3.5, 1.4, 0.2]]`` (the SageMaker toolkit's JSON), mlflow's
``{"inputs": [[...]]}`` (its scoring protocol). Rounds alternate between the servers so
drift hits all of them.

mlflow lives only in its own virtualenv, ``benchmarks/.venv-mlflow``, created on first run
with ``python -m venv`` and ``pip install mlflow scikit-learn==<ours>`` (scikit-learn pinned
to the version here, so both servers unpickle the identical model). If it cannot be
installed the script says so and measures our server alone.

Run: ``python benchmarks/bench_serving.py`` (about 6 minutes once mlflow is installed;
``--help`` for the knobs). Not a test: it prints numbers and ratios and never fails on one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MLFLOW_VENV = HERE / ".venv-mlflow"
ROW = [5.1, 3.5, 1.4, 0.2]
OURS_BODY = json.dumps([ROW]).encode()
MLFLOW_BODY = json.dumps({"inputs": [ROW]}).encode()

HANDLERS = """\
import os

import joblib


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
"""


# -- load generator ----------------------------------------------------------------------------


@dataclass
class Run:
    """What one load phase measured."""

    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    server_cpu: float = 0.0  # CPU seconds the server's processes used meanwhile
    root_cpu: float = 0.0  # of which the root process alone (our router; mlflow's CLI)

    @property
    def rps(self) -> float:
        """Completed requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        """Return the ``q`` quantile of the latencies in milliseconds."""
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Read one HTTP/1.1 response (Content-Length or chunked); return status and body."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
    if "content-length" in headers:
        return status, await reader.readexactly(int(headers["content-length"]))
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return status, body
            body += chunk[:-2]
    return status, b""


async def _drive(
    port: int, body: bytes, concurrency: int, seconds: float, max_requests: int
) -> Run:
    request = (
        f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nAccept: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()
    deadline = started + seconds

    async def connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline and len(latencies) < max_requests:
                sent = time.perf_counter()
                writer.write(request)
                status, _ = await _read_response(reader)
                latencies.append((time.perf_counter() - sent) * 1000)
                if status != 200:
                    errors += 1
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return Run(len(latencies), errors, time.perf_counter() - started, latencies)


def drive(port: int, body: bytes, concurrency: int, seconds: float, max_requests: int) -> Run:
    """Run the load generator for ``seconds`` (or ``max_requests``) and return what it saw."""
    return asyncio.run(_drive(port, body, concurrency, seconds, max_requests))


def merge(runs: list[Run]) -> Run:
    """Pool the rounds of one phase."""
    return Run(
        sum(r.requests for r in runs),
        sum(r.errors for r in runs),
        sum(r.seconds for r in runs),
        [latency for r in runs for latency in r.latencies_ms],
        sum(r.server_cpu for r in runs),
        sum(r.root_cpu for r in runs),
    )


def tree_cpu(root: int) -> float:
    """Return the CPU seconds (user + system) used so far by ``root`` and its descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rfind(")") + 2 :].split()
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += stats.get(pid, (0, 0.0))[1]
        todo += [child for child, (parent, _) in stats.items() if parent == pid]
    return total


def own_cpu(pid: int) -> float:
    """Return the CPU seconds (user + system) used so far by ``pid`` alone (not its children)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw[raw.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_request(run: Run) -> float:
    """Server CPU seconds per completed request."""
    return run.server_cpu / run.requests if run.requests else float("nan")


def measured(root: int, port: int, body: bytes, concurrency: int, seconds: float, cap: int) -> Run:
    """Run one load phase and record the CPU time the server's process tree spent on it."""
    before, root_before = tree_cpu(root), own_cpu(root)
    run = drive(port, body, concurrency, seconds, cap)
    run.server_cpu = tree_cpu(root) - before
    run.root_cpu = own_cpu(root) - root_before
    return run


# -- the model and the two servers ---------------------------------------------------------------


def make_model(kind: str, folder: Path) -> Path:
    """Fit the model on iris and write ``model.joblib``; return the model folder."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True)
    if kind == "lr":
        model: Any = LogisticRegression(max_iter=1000)
    else:
        model = RandomForestClassifier(n_estimators=50, random_state=0)
    model.fit(features, labels)
    model_dir = folder / kind / "model"
    model_dir.mkdir(parents=True)
    joblib.dump(model, model_dir / "model.joblib")
    return model_dir


def predict_times(model_dir: Path, script: Path, count: int = 3000) -> tuple[float, float]:
    """Return p50 (ms) of the in-process handler chain and of ``model.predict`` alone."""
    import numpy as np

    from sm_magics.backends.local import inference

    handlers = inference.load_handlers(script)
    model = inference.load_model(handlers, model_dir)
    row = np.array([ROW])
    chain, predict = [], []
    for _ in range(count):
        started = time.perf_counter()
        handlers.invoke(model, OURS_BODY, "application/json", "application/json")
        chain.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        model.predict(row)
        predict.append((time.perf_counter() - started) * 1000)
    return statistics.median(chain), statistics.median(predict)


def ensure_mlflow() -> Path | None:
    """Return the Python of the mlflow virtualenv, creating it if needed; None if impossible."""
    import sklearn

    python = MLFLOW_VENV / "bin" / "python"
    check = [str(python), "-c", "import mlflow, sklearn; print(mlflow.__version__)"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"creating {MLFLOW_VENV} (mlflow pulls many packages; a few minutes) ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(MLFLOW_VENV)], check=True)
        index = subprocess.run(
            [str(python), "-m", "pip", "index", "versions", "mlflow"],
            capture_output=True,
            text=True,
        )
        if index.returncode != 0:
            print(f"mlflow is not available from the package index:\n{index.stderr[-2000:]}")
            return None
        print(index.stdout.splitlines()[0] if index.stdout else "", flush=True)
        install = subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "mlflow",
                f"scikit-learn=={sklearn.__version__}",
            ],
            capture_output=True,
            text=True,
        )
        if install.returncode != 0:
            print(f"mlflow could not be installed:\n{install.stderr[-3000:]}")
            return None
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"mlflow could not be installed: {exc}")
        return None
    return python if subprocess.run(check, capture_output=True).returncode == 0 else None


def mlflow_save_and_time(python: Path, model_dir: Path, target: Path) -> float:
    """Save the joblib model with ``mlflow.sklearn.save_model``; return pyfunc predict p50."""
    script = textwrap.dedent(
        f"""
        import statistics, time, joblib, mlflow.pyfunc, mlflow.sklearn, numpy as np
        model = joblib.load({str(model_dir / "model.joblib")!r})
        # mlflow 3 saves with skops, which loads tree models only once their Tree type is
        # declared trusted (we made the model ourselves a moment ago).
        mlflow.sklearn.save_model(
            model, {str(target)!r}, skops_trusted_types=["sklearn.tree._tree.Tree"]
        )
        loaded = mlflow.pyfunc.load_model({str(target)!r})
        row = np.array([{ROW!r}])
        times = []
        for _ in range(3000):
            started = time.perf_counter()
            loaded.predict(row)
            times.append((time.perf_counter() - started) * 1000)
        print(statistics.median(times))
        """
    )
    done = subprocess.run([str(python), "-c", script], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def free_port() -> int:
    """Return a port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 180) -> None:
    """Wait until ``GET url`` answers 200 (or ``process`` exits: then raise)."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited ({process.returncode}) before answering")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout}s")
        time.sleep(0.2)


def post(port: int, body: bytes) -> bytes:
    """POST one request and return the body (a sanity check of the answer)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        data: bytes = response.read()
        return data


@contextlib.contextmanager
def our_endpoint(model_dir: Path, script: Path, workers: int, folder: Path) -> Any:
    """Deploy the model on the local backend; yield its port; delete it afterwards."""
    from sm_magics.backends.local.endpoint_dir import EndpointDir
    from sm_magics.backends.local.engine import LocalBackend
    from sm_magics.backends.specs import EndpointSpec, VariantSpec
    from sm_magics.packaging import write_tar_gz

    archive = folder / "model.tar.gz"
    write_tar_gz(model_dir, archive)
    backend = LocalBackend()
    name = f"bench-{os.getpid()}-{model_dir.parent.name}"
    backend.create_endpoint(
        EndpointSpec(
            name=name,
            variants=[
                VariantSpec(model_data=str(archive), entry_point=script, instance_count=workers)
            ],
        )
    )
    try:
        deadline = time.monotonic() + 180
        while (status := backend.describe_endpoint(name)["EndpointStatus"]) == "Creating":
            if time.monotonic() > deadline:
                raise TimeoutError("our endpoint did not start")
            time.sleep(0.1)
        if status != "InService":
            raise RuntimeError(f"our endpoint is {status}: {backend.describe_endpoint(name)}")
        url = backend.describe_endpoint(name)["Url"]
        router = int((EndpointDir.for_endpoint(name).root / "router.pid").read_text().split()[0])
        yield int(url.rsplit(":", 1)[1]), backend, name, router
    finally:
        backend.delete_endpoint(name)


@contextlib.contextmanager
def mlflow_server(python: Path, model_path: Path, workers: int) -> Any:
    """Start ``mlflow models serve`` on the saved model; yield its port; stop it afterwards."""
    port = free_port()
    log = open(model_path.parent / f"mlflow-serve-{port}.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            str(python.parent / "mlflow"),
            "models",
            "serve",
            "-m",
            str(model_path),
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
            "--env-manager",
            "local",
            "-w",
            str(workers),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        # As an activated venv: mlflow execs ``uvicorn`` from PATH.
        env={**os.environ, "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/ping", process)
        yield port, process.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


# -- the benchmark ---------------------------------------------------------------------------


def describe_machine() -> str:
    """Return CPU model, core count and Python version."""
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def bench_model(kind: str, args: argparse.Namespace, python: Path | None, folder: Path) -> None:
    """Measure every server on one model and print the table and ratios."""
    label = {"lr": "LogisticRegression", "rf": "RandomForest(50 trees)"}[kind]
    model_dir = make_model(kind, folder)
    script = folder / kind / "inference.py"
    script.write_text(HANDLERS)
    chain_ms, predict_ms = predict_times(model_dir, script)
    mlflow_predict_ms = None
    mlflow_model = folder / kind / "mlflow-model"
    if python is not None:
        mlflow_predict_ms = mlflow_save_and_time(python, model_dir, mlflow_model)

    results: dict[str, dict[str, list[Run]]] = {}
    with contextlib.ExitStack() as stack:
        ours_port, backend, name, router = stack.enter_context(
            our_endpoint(model_dir, script, args.workers, folder / kind)
        )
        servers = {"ours": (ours_port, OURS_BODY, router)}
        if python is not None:
            # The same worker count as ours; and one worker, which uvicorn serves without the
            # Nagle delay its multi-worker mode adds (see the module docstring).
            for workers in dict.fromkeys([args.workers, 1]):
                port, pid = stack.enter_context(mlflow_server(python, mlflow_model, workers))
                servers[f"mlflow -w {workers}"] = (port, MLFLOW_BODY, pid)
        for server, (port, body, _root) in servers.items():
            print(f"  {server} answers {post(port, body).decode()!r}", flush=True)
            drive(port, body, args.concurrency, args.warmup, 10**9)  # warm up
            results[server] = {"c1": [], "cN": []}
        for round_ in range(args.rounds):
            for server, (port, body, root) in servers.items():
                results[server]["c1"].append(drive(port, body, 1, args.seconds_c1, 50_000))
                results[server]["cN"].append(
                    measured(root, port, body, args.concurrency, args.seconds, 500_000)
                )
                c1, cn = results[server]["c1"][-1], results[server]["cN"][-1]
                print(
                    f"  round {round_ + 1} {server}: c=1 p50 {c1.pct(0.5):.2f} ms, "
                    f"c={args.concurrency} {cn.rps:.0f} req/s",
                    flush=True,
                )
        router_view = backend.describe_endpoint(name)["ProductionVariants"][0]

    pooled = {s: {p: merge(runs) for p, runs in phases.items()} for s, phases in results.items()}
    n = args.concurrency
    print(f"\n{label}, {args.workers} worker process(es) for ours")
    print(
        f"| server | c=1 p50 ms | c=1 p99 ms | c={n} req/s | c={n} p50 ms | c={n} p99 ms "
        f"| server CPU ms/request at c={n} | requests | errors |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for server, phases in pooled.items():
        c1, cn = phases["c1"], phases["cN"]
        print(
            f"| {server} | {c1.pct(0.5):.2f} | {c1.pct(0.99):.2f} | {cn.rps:.0f} | "
            f"{cn.pct(0.5):.2f} | {cn.pct(0.99):.2f} | {1000 * cpu_per_request(cn):.3f} "
            f"| {c1.requests + cn.requests} "
            f"| {c1.errors + cn.errors} |"
        )
    ours = pooled["ours"]
    print(
        f"in process: handler chain (input_fn+predict+output_fn) p50 {chain_ms:.3f} ms, "
        f"model.predict alone p50 {predict_ms:.3f} ms"
        + (
            f"; mlflow pyfunc predict p50 {mlflow_predict_ms:.3f} ms"
            if mlflow_predict_ms is not None
            else ""
        )
    )
    ours_cn = ours["cN"]
    print(
        f"our router process alone at c={n}: "
        f"{1000 * ours_cn.root_cpu / max(ours_cn.requests, 1):.3f} ms CPU per request "
        f"(the rest of the {1000 * cpu_per_request(ours_cn):.3f} ms is the workers)"
    )
    print(
        f"our overhead at c=1 p50: {ours['c1'].pct(0.5) - chain_ms:.2f} ms beyond the handler "
        f"chain, {ours['c1'].pct(0.5) - predict_ms:.2f} ms beyond model.predict "
        f"(the router's own p50 of the last 2000 requests: {router_view['LatencyP50Ms']} ms)"
    )
    for server, theirs in pooled.items():
        if server == "ours":
            continue
        print(
            f"ours/{server}: throughput {ours['cN'].rps / theirs['cN'].rps:.2f}x "
            f"(target >= 1.5x); latency ratios (lower is better) c=1 p50 "
            f"{ours['c1'].pct(0.5) / theirs['c1'].pct(0.5):.2f}, p99 "
            f"{ours['c1'].pct(0.99) / theirs['c1'].pct(0.99):.2f}; c={n} p50 "
            f"{ours['cN'].pct(0.5) / theirs['cN'].pct(0.5):.2f}, p99 "
            f"{ours['cN'].pct(0.99) / theirs['cN'].pct(0.99):.2f}; server CPU per request "
            f"{cpu_per_request(ours['cN']) / cpu_per_request(theirs['cN']):.2f}"
        )
        if mlflow_predict_ms is not None:
            print(
                f"  {server} overhead at c=1 p50: "
                f"{theirs['c1'].pct(0.5) - mlflow_predict_ms:.2f} ms beyond its pyfunc predict"
            )
    print(flush=True)


def main() -> None:
    """Parse the knobs, prepare mlflow, run every model."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="lr,rf", help="lr, rf or both (default lr,rf)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes per server")
    parser.add_argument("--concurrency", type=int, default=8, help="connections (default 8)")
    parser.add_argument("--seconds", type=float, default=10, help="per throughput phase")
    parser.add_argument("--seconds-c1", type=float, default=5, help="per latency phase")
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--no-mlflow", action="store_true", help="measure our server alone")
    args = parser.parse_args()

    print(f"bench_serving: {time.strftime('%Y-%m-%d %H:%M %Z')} on {describe_machine()}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    python = None if args.no_mlflow else ensure_mlflow()
    if python is not None:
        version = subprocess.run(
            [
                str(python),
                "-c",
                "import mlflow, sklearn; print(mlflow.__version__, sklearn.__version__)",
            ],
            capture_output=True,
            text=True,
        ).stdout.split()
        print(f"baseline: mlflow {version[0]} (scikit-learn {version[1]}) in {MLFLOW_VENV.name}")
    elif not args.no_mlflow:
        print("baseline: none -- mlflow could not be installed; our numbers only")
    print(
        f"load: asyncio HTTP/1.1 keep-alive client in one process; c=1 phases "
        f"{args.seconds_c1:.0f} s, c={args.concurrency} phases {args.seconds:.0f} s, "
        f"{args.rounds} alternating rounds per server\n",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        os.environ["SM_MAGICS_HOME"] = str(Path(tmp) / "home")
        for kind in args.models.split(","):
            bench_model(kind.strip(), args, python, Path(tmp))


if __name__ == "__main__":
    main()
