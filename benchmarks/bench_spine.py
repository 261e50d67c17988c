"""Benchmarks of the local training spine, each a ratio against a baseline of the same run.

1. Kernel weight: ``%load_ext sm_magics`` in a fresh interpreter vs ``import boto3`` (the
   lightest thing the SageMaker SDK path would import).
2. Time until the kernel is free: ``Session.train()`` returning vs running the same
   script in the kernel's process (what a blocking ``fit()`` costs at least).
3. Log delivery latency: the adaptive ``LogFollower`` vs a fixed 5 s poll (the SageMaker
   SDK v3's ``TrainingJob.wait(poll=5)``), both following the same job at the same time.

Run: ``.venv/bin/python benchmarks/bench_spine.py`` (about 40 s). Prints medians and ratios.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPEATS = 7


def _median_seconds(command: list[str]) -> float:
    samples = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def bench_import() -> None:
    load_ext = (
        "from IPython.core.interactiveshell import InteractiveShell as S;"
        "S.instance().run_line_magic('load_ext', 'sm_magics')"
    )
    ipython_only = "from IPython.core.interactiveshell import InteractiveShell as S; S.instance()"
    base = _median_seconds([sys.executable, "-c", ipython_only])
    ours = _median_seconds([sys.executable, "-c", load_ext]) - base
    boto = _median_seconds([sys.executable, "-c", "import boto3"]) - _median_seconds(
        [sys.executable, "-c", "pass"]
    )
    print(
        f"1. %load_ext sm_magics adds {ours * 1000:.0f} ms; import boto3 alone costs "
        f"{boto * 1000:.0f} ms -> ratio {ours / boto:.2f} (lower is lighter)"
    )


SCRIPT = """
import time
for i in range(40):
    print(f"line {i} {time.time():.6f}", flush=True)
    time.sleep(0.25)
"""


def bench_submit_and_logs() -> None:
    from sm_magics.api import Session
    from sm_magics.logs import LogFollower

    session = Session("local")
    start = time.perf_counter()
    job = session.train("import time\nfor _ in range(10): time.sleep(0.1)\n")
    submit = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "train.py"
        script.write_text("import time\nfor _ in range(10): time.sleep(0.1)\n")
        start = time.perf_counter()
        subprocess.run([sys.executable, str(script)], check=True)
        blocking = time.perf_counter() - start
    job.wait()
    print(
        f"2. kernel free after {submit * 1000:.1f} ms vs {blocking * 1000:.0f} ms running the "
        f"1 s script in-process -> {blocking / submit:.0f}x sooner"
    )

    job = session.train(SCRIPT)
    adaptive: list[float] = []
    fixed: list[float] = []

    def record(latencies: list[float]):  # type: ignore[no-untyped-def]
        def on_events(events):  # type: ignore[no-untyped-def]
            now = time.time()
            for event in events:
                parts = event.message.split()
                if len(parts) == 3 and parts[0] == "line":
                    latencies.append(now - float(parts[2]))

        return on_events

    follower = LogFollower(job, record(adaptive), lambda _d: None)
    follower.start()
    fixed_poller = LogFollower(
        job, record(fixed), lambda _d: None, min_interval=5.0, max_interval=5.0, status_interval=5.0
    )
    fixed_poller.start()
    follower.join()
    fixed_poller.join()
    a, f = statistics.median(adaptive), statistics.median(fixed)
    print(
        f"3. log line delivery, median: adaptive follower {a * 1000:.0f} ms, fixed 5 s poll "
        f"{f * 1000:.0f} ms -> {f / a:.1f}x lower latency ({len(adaptive)}/{len(fixed)} lines)"
    )


def main() -> None:
    os.environ.setdefault("SM_MAGICS_HOME", tempfile.mkdtemp(prefix="sm-bench-"))
    bench_import()
    bench_submit_and_logs()


if __name__ == "__main__":
    main()
