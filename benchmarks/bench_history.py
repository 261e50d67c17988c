"""Costs that do not grow with history: the ledger's readers at 10, 1,000 and 10,000 rows.

Issue 13's bar: every figure at 10,000 ledger rows within 2x of the same figure at 10
rows, and an idle side panel under 0.5 % of a core at 10,000 rows. For each size this
seeds a fresh ``SM_MAGICS_HOME`` with a ledger of that many rows and times, in the same
run:

- ``%sm_jobs --limit 10`` and ``%sm_cost`` through a real ``InteractiveShell`` with ``%load_ext
  sm_magics``, the table rendered as the notebook renders it (``_repr_html_``);
- ``GET /jobs?limit=10``, ``GET /cost``, ``GET /changes`` (no ``since``: the answer at once)
  against a real ``jupyter server`` with the extension, over one keep-alive connection;
- an idle panel: the server's CPU time (psutil) while a client holds the panel's long
  poll ``/changes?since=V&timeout=30`` back to back on an unchanging ledger, as a share
  of one core.

The history is what a busy year leaves: 95 % training jobs (with transform and
processing ones), spread evenly over the past 365 days on both backends, five instance
types, a tenth spot, twenty notebooks, and one endpoint row for every twenty jobs, all
ended or deleted; nothing runs (a running job is described by its backend on every read,
which is the same work at any size). Each figure is the median of ``--repeat`` calls after
one warm-up call. The ratios divide the 1,000- and 10,000-row figures by the 10-row one.
The job lists ask for ten rows: a page as long as the smallest ledger, so the figures
compare reading history and not drawing a longer table (``%sm_jobs`` shows 50 by default,
the panel asks for 50; both are the same work at 1,000 and 10,000 rows). Jupyter's own
``GET /api/status`` is timed beside the routes as the floor of a request on this server.
The idle panel's share is the server's CPU with the long poll held minus the CPU of the
same server with no client, over the same number of seconds.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/bench_history.py`` (about 2 minutes;
``--sizes``, ``--repeat``, ``--idle``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

API = "/sm-magics/api/v1"
TYPES = ["ml.m5.large", "ml.m5.xlarge", "ml.c5.2xlarge", "ml.g4dn.xlarge", "ml.p3.2xlarge"]
YEAR = 365 * 86400


def seed(home: Path, rows: int, now: float) -> None:
    """Write ``rows`` rows of history into ``home``'s ledger in one transaction."""
    from sm_magics.ledger import Ledger
    from sm_magics.ledger_records import EndpointRecord, JobRecord, to_row

    rng = random.Random(rows)
    ledger = Ledger(home / "ledger.sqlite")
    endpoints = max(1, rows // 20)
    with ledger._write() as conn:
        for i in range(rows - endpoints):
            created = now - rng.uniform(3600, YEAR)
            started = created + rng.uniform(5, 300)
            job = JobRecord(
                name=f"job-{i:06d}",
                backend=rng.choice(["local", "sagemaker"]),
                status=rng.choice(["Completed"] * 8 + ["Failed", "Stopped"]),
                created_at=created,
                kind=rng.choice(["training"] * 18 + ["transform", "processing"]),
                region="us-east-1",
                instance_type=rng.choice(TYPES),
                instance_count=rng.choice([1, 1, 1, 2]),
                spot=rng.random() < 0.1,
                started_at=started,
                ended_at=min(now - 60, started + rng.uniform(60, 4 * 3600)),
                notebook=f"nb{rng.randrange(20)}.ipynb",
                updated_at=now - 60,
            )
            row = to_row(job)
            marks = ", ".join(f":{k}" for k in row)
            conn.execute(f"INSERT INTO jobs ({', '.join(row)}) VALUES ({marks})", row)
        for i in range(endpoints):
            created = now - rng.uniform(3600, YEAR)
            endpoint = EndpointRecord(
                name=f"ep-{i:06d}",
                backend=rng.choice(["local", "sagemaker"]),
                status="Deleted",
                created_at=created,
                region="us-east-1",
                variants=[
                    {
                        "VariantName": "AllTraffic",
                        "InstanceType": rng.choice(TYPES[:3]),
                        "DesiredInstanceCount": 1,
                    }
                ],
                deleted_at=min(now - 60, created + rng.uniform(600, 86400)),
                notebook=f"nb{rng.randrange(20)}.ipynb",
                spec={"variants": [{"name": "AllTraffic", "model": f"s3://b/m{i}"}]},
                updated_at=now - 60,
            )
            row = to_row(endpoint)
            marks = ", ".join(f":{k}" for k in row)
            conn.execute(f"INSERT INTO endpoints ({', '.join(row)}) VALUES ({marks})", row)
    ledger.close()


def timed_ms(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def interleaved(calls: dict[int, Callable[[], Any]], repeat: int) -> dict[int, float]:
    """Median ms of each size's call, the sizes taken in turn so load drift hits all alike."""
    samples: dict[int, list[float]] = {rows: [] for rows in calls}
    for call in calls.values():
        call()  # warm-up: imports, connections, the price table
    for _ in range(repeat):
        for rows, call in calls.items():
            samples[rows].append(timed_ms(call))
    return {rows: statistics.median(values) for rows, values in samples.items()}


def shell_magics(homes: dict[int, Path]) -> dict[int, Any]:
    """One ``JobMagics`` (``%sm_jobs``, ``%sm_cost``) per home, over its own core.

    The classes ``%load_ext`` registered in a real shell; one core (``SageMakerMagics``,
    which holds the session and its ledger) per home.
    """
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "sm_magics")
    core_cls = type(shell.magics_manager.registry["SageMakerMagics"])
    jobs_cls = type(shell.magics_manager.registry["JobMagics"])
    magics = {}
    for rows, home in homes.items():
        os.environ["SM_MAGICS_HOME"] = str(home)
        core = core_cls(shell)
        magics[rows] = jobs_cls(shell, core=core)
        assert core.session.ledger.path.parent == home
    return magics


class Server:
    """A ``jupyter server`` with the extension on a scratch home, and one keep-alive client."""

    def __init__(self, home: Path, base: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.token = secrets.token_hex(16)
        env = {
            **os.environ,
            "SM_MAGICS_HOME": str(home),
            "JUPYTER_CONFIG_DIR": str(base / "config"),
            "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        }
        root = base / "root"
        root.mkdir()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter_server",
                "--no-browser",
                "--allow-root",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={self.port}",
                "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={self.token}",
                f"--ServerApp.root_dir={root}",
                "--ServerApp.jpserver_extensions={'sm_magics': True}",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(base / "server.log").open("w"),
        )
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.get("/api/status")
                break
            except (OSError, http.client.HTTPException):
                if time.monotonic() > deadline:
                    raise
                self.conn.close()
                time.sleep(0.2)

    def get(self, path: str) -> Any:
        self.conn.request("GET", path, headers={"Authorization": f"token {self.token}"})
        response = self.conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
        return json.loads(body)

    def cpu_seconds(self) -> float:
        import psutil

        times = psutil.Process(self.process.pid).cpu_times()
        return float(times.user + times.system)

    def stop(self) -> None:
        self.conn.close()
        self.process.terminate()
        self.process.wait(30)


def idle_panel(server: Server, seconds: float) -> float:
    """The server's CPU (% of a core) for an idle panel's long poll, minus its own idle."""
    version = server.get(f"{API}/changes")["version"]
    before, start = server.cpu_seconds(), time.monotonic()
    time.sleep(seconds)  # no panel at all: the server's own idle cost
    alone = (server.cpu_seconds() - before) / (time.monotonic() - start)
    before, start = server.cpu_seconds(), time.monotonic()
    while time.monotonic() - start < seconds:
        timeout = max(1, min(30, round(seconds - (time.monotonic() - start))))
        server.get(f"{API}/changes?since={version}&timeout={timeout}")
    used, elapsed = server.cpu_seconds() - before, time.monotonic() - start
    return max(0.0, 100 * (used / elapsed - alone))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="10,1000,10000", help="ledger rows (default 10,1000,10000)"
    )
    parser.add_argument("--repeat", type=int, default=21, help="calls per figure (default 21)")
    parser.add_argument("--idle", type=float, default=30, help="idle panel seconds (default 30)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    now = time.time()
    results: dict[str, dict[int, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
        homes = {}
        for rows in sizes:
            homes[rows] = Path(tmp) / str(rows) / "home"
            homes[rows].mkdir(parents=True)
            seed(homes[rows], rows, now)
        magics = shell_magics(homes)
        results["%sm_jobs --limit 10"] = interleaved(
            {n: lambda m=m: m.sm_jobs("--limit 10")._repr_html_() for n, m in magics.items()},
            args.repeat,
        )
        results["%sm_cost"] = interleaved(
            {n: lambda m=m: m.sm_cost("")._repr_html_() for n, m in magics.items()}, args.repeat
        )
        servers = {rows: Server(homes[rows], homes[rows].parent) for rows in sizes}
        try:
            routes = {
                "GET /api/status (Jupyter's own: the floor)": "/api/status",
                "GET /jobs?limit=10": f"{API}/jobs?limit=10",
                "GET /cost": f"{API}/cost",
                "GET /changes": f"{API}/changes",
            }
            for figure, path in routes.items():
                results[figure] = interleaved(
                    {n: lambda s=s, p=path: s.get(p) for n, s in servers.items()}, args.repeat
                )
            results["idle panel, % of a core"] = {
                n: idle_panel(s, args.idle) for n, s in servers.items()
            }
        finally:
            for server in servers.values():
                server.stop()
    report(sizes, results, args.repeat)


def report(sizes: list[int], results: dict[str, dict[int, float]], repeat: int) -> None:
    first, last = sizes[0], sizes[-1]
    print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs; medians of {repeat}")
    header = "| figure | " + " | ".join(f"{n:,} rows" for n in sizes)
    header += " | " + " | ".join(f"{n:,}/{first:,}" for n in sizes[1:]) + " |"
    print(header)
    print("|---" * (2 * len(sizes)) + "|")
    for figure, values in results.items():
        unit = " %" if figure.startswith("idle") else " ms"
        cells = [f"{values[n]:.2f}{unit}" for n in sizes]
        ratios = [f"{values[n] / values[first]:.2f}x" if values[first] else "-" for n in sizes[1:]]
        print(f"| {figure} | " + " | ".join(cells + ratios) + " |")
    timed = [f for f in results if not f.startswith("idle")]
    worst = max(results[f][last] / results[f][first] for f in timed)
    idle = results["idle panel, % of a core"][last]
    verdict = "PASS" if worst <= 2 and idle < 0.5 else "FAIL"
    print(
        f"{verdict}: worst ratio at {last:,} rows {worst:.2f}x (bar 2x); "
        f"idle panel {idle:.2f} % of a core (bar 0.5 %)"
    )


if __name__ == "__main__":
    main()
