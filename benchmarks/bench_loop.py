"""The edit-run loop on the local backend, each figure a ratio against a baseline of the same run.

1. Loop: ten ``%%sm_train --wait`` cells of a tiny scikit-learn script through a real
   ``InteractiveShell`` vs ``python train.py`` ten times (target: within 1.15x).
2. ``--wait`` return: from the job's end (``ended`` in its state file) to the cell's return
   (target: within 50 ms).
3. First line: from ``%%sm_train`` to the first script line through the widget's own
   ``LogFollower`` (default pacing) and through ``--wait``, vs a bare ``python -c pass``
   measured between the attempts (target: within 3x). Also for a kernel's *first* job: a
   fresh interpreter, ``%load_ext``, a one-second pause (the next cell being typed), then
   ``%%sm_train`` and the widget's follower.
4. Start-up: ``%load_ext`` + first ``%%sm_train`` + first widget in a fresh interpreter,
   vs ``import boto3``; and on the sagemaker backend (4b, against a moto server on
   127.0.0.1), vs ``import boto3`` and its first call.
5. Kernel memory while a widget-like follower (last 400 lines kept) follows 10k, 100k and
   1M lines printed at full speed (target: under 30 MB added for 1M).

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/bench_loop.py [--quick]``;
``--first-line [N]`` measures only figure 3 (N attempts, default 7); ``--startup`` only 4.
Run it without ``PYTHONDONTWRITEBYTECODE`` (some machines set it): with it, every process
the benchmark starts compiles sm-magics' modules again, which no installed package does.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

TRAIN = """\
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
X, y = load_iris(return_X_y=True)
print("accuracy", LogisticRegression(max_iter=200).fit(X, y).score(X, y))
"""
FIRST_LINE = "print('first', flush=True)\nimport time\ntime.sleep(0.3)\n"


def _shell() -> Any:
    from IPython.core.interactiveshell import InteractiveShell

    import sm_magics.magics

    # As in a notebook: the widget follows a job, nothing streams into the terminal (a
    # terminal's background printer would also follow every job, and its lines would
    # interleave with the figures).
    sm_magics.magics.widgets_available = lambda: True  # type: ignore[attr-defined]
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "sm_magics")
    return ip


def _bare_python() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - start


def bench_loop(ip: Any, iterations: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "train.py"
        script.write_text(TRAIN)
        start = time.perf_counter()
        for _ in range(iterations):
            subprocess.run([sys.executable, str(script)], check=True, capture_output=True)
        plain = time.perf_counter() - start
    gaps = []
    start = time.perf_counter()
    for _ in range(iterations):
        with contextlib.redirect_stdout(io.StringIO()):
            job = ip.run_cell_magic("sm_train", "--wait", TRAIN)
        returned = time.time()
        gaps.append(returned - _ended(job.name))
    magic = time.perf_counter() - start
    print(
        f"1. loop x{iterations}: %%sm_train --wait {magic:.2f} s vs python train.py {plain:.2f} s"
        f" = {magic / plain:.2f}x (target 1.15x)"
    )
    print(
        f"2. --wait returns after the job's end: median {statistics.median(gaps) * 1000:.0f} ms,"
        f" max {max(gaps) * 1000:.0f} ms (target 50 ms)"
    )


def _ended(name: str) -> float:
    from sm_magics.backends.local.jobdir import JobDir

    return float(JobDir.for_job(name).read_state()["ended"])


def bench_first_line(ip: Any, attempts: int) -> None:
    from sm_magics.logs import LogFollower

    widget, waited, bare = [], [], []
    for _ in range(attempts):
        bare.append(_bare_python())
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            job = ip.run_cell_magic("sm_train", "", FIRST_LINE)
        seen: list[float] = []

        def on_events(events: list[Any], seen: list[float] = seen) -> None:
            if not seen and any(e.message == "first" for e in events):
                seen.append(time.perf_counter())

        follower = LogFollower(job, on_events, lambda d: None)  # the widget's own pacing
        follower.start()
        follower.join(60)
        widget.append(seen[0] - start)
        bare.append(_bare_python())
        out = _FirstLine()
        start = time.perf_counter()
        with contextlib.redirect_stdout(out):
            ip.run_cell_magic("sm_train", "--wait", FIRST_LINE)
        waited.append(out.first - start)
    b = statistics.median(bare)
    w, v = statistics.median(widget), statistics.median(waited)
    print(
        f"3. first line: widget follower {w * 1000:.0f} ms, --wait {v * 1000:.0f} ms, bare python"
        f" start {b * 1000:.0f} ms = {w / b:.1f}x / {v / b:.1f}x (target 3x)"
    )


def _first_job_sample() -> None:
    """In a fresh interpreter: print the first line's delay of the kernel's first job."""
    from sm_magics.logs import LogFollower

    ip = _shell()
    time.sleep(1.0)  # the person types the next cell
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        job = ip.run_cell_magic("sm_train", "", FIRST_LINE)
    seen: list[float] = []

    def on_events(events: list[Any]) -> None:
        if not seen and any(e.message == "first" for e in events):
            seen.append(time.perf_counter())

    follower = LogFollower(job, on_events, lambda d: None)
    follower.start()
    follower.join(60)
    print(f"first-job {seen[0] - start:.6f}")


def bench_first_job(attempts: int) -> None:
    samples, bare = [], []
    for _ in range(attempts):
        bare.append(_bare_python())
        done = subprocess.run(
            [sys.executable, __file__, "--first-job-sample"], capture_output=True, text=True
        )
        line = [x for x in done.stdout.splitlines() if x.startswith("first-job ")]
        samples.append(float(line[-1].split()[1]))
    b, f = statistics.median(bare), statistics.median(samples)
    print(
        f"3b. first line of a kernel's first job (fresh interpreter, %load_ext, 1 s, %%sm_train):"
        f" {f * 1000:.0f} ms vs bare python start {b * 1000:.0f} ms = {f / b:.1f}x"
    )


class _FirstLine(io.StringIO):
    first = 0.0

    def write(self, text: str) -> int:
        if not self.first and "first" in text:
            self.first = time.perf_counter()
        return super().write(text)


def _startup_code(flags: str = "") -> str:
    """A fresh interpreter's ``%load_ext``, first ``%%sm_train FLAGS`` and first widget."""
    return (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "import contextlib, io\n"
        "ip = InteractiveShell.instance()\n"
        "ip.run_line_magic('load_ext', 'sm_magics')\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    job = ip.run_cell_magic('sm_train', {flags!r}, 'print(1)')\n"
        "from sm_magics.widgets import JobWidget\n"
        "JobWidget(job, follow=False)\n"
    )


def bench_startup() -> None:
    code = _startup_code()
    ours, boto = [], []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import boto3"], check=True, capture_output=True)
        boto.append(time.perf_counter() - start)
    o, b = statistics.median(ours), statistics.median(boto)
    print(
        f"4. %load_ext + first %%sm_train + first widget {o:.2f} s vs import boto3 {b:.2f} s"
        f" = {o / b:.2f}x (both in a fresh interpreter)"
    )


def bench_startup_sagemaker() -> None:
    """Figure 4 on the sagemaker backend: ``%%sm_train``'s first AWS calls, against moto.

    A moto server on 127.0.0.1 answers both sides (``AWS_ENDPOINT_URL``): ours is
    ``%load_ext``, the first ``%%sm_train`` (the code's upload to S3, CreateTrainingJob)
    and the first widget (a describe); the baseline is ``import boto3`` and its first call.
    """
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "SM_MAGICS_REGION": "us-east-1",
            "SM_MAGICS_BACKEND": "sagemaker",
            "SM_MAGICS_ROLE": "arn:aws:iam::123456789012:role/sm-magics-bench",
            "NO_PROXY": "127.0.0.1",
        }
        code = _startup_code("--image 123456789012.dkr.ecr.us-east-1.amazonaws.com/bench:1")
        baseline = "import boto3\nboto3.client('sagemaker').list_training_jobs()\n"
        ours, boto = [], []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=env)
            ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-c", baseline], check=True, capture_output=True, env=env
            )
            boto.append(time.perf_counter() - start)
    finally:
        server.stop()
    o, b = statistics.median(ours), statistics.median(boto)
    print(
        f"4b. sagemaker backend: %load_ext + first %%sm_train (upload, CreateTrainingJob) + "
        f"first widget {o:.2f} s vs import boto3 + its first call {b:.2f} s = {o / b:.2f}x"
        " (moto on 127.0.0.1 answering both)"
    )


def bench_memory(ip: Any, counts: list[int]) -> None:
    import psutil

    from sm_magics.logs import LogFollower

    me = psutil.Process()
    for count in counts:
        script = (
            f"import sys\nfor i in range({count}):\n"
            "    sys.stdout.write(f'line {i} loss=0.5\\n')\n"
        )
        with contextlib.redirect_stdout(io.StringIO()):
            job = ip.run_cell_magic("sm_train", "", script)
        kept: deque[str] = deque(maxlen=400)
        peak = [me.memory_info().rss]
        before = peak[0]

        def on_events(events: list[Any], kept: deque[str] = kept, peak: list[int] = peak) -> None:
            kept.extend(e.message for e in events)
            peak[0] = max(peak[0], me.memory_info().rss)

        follower = LogFollower(job, on_events, lambda d: None)
        follower.start()
        follower.join(600)
        print(
            f"5. following {count:,} lines: +{(peak[0] - before) / 2**20:.1f} MB peak RSS"
            " (target < 30 MB for 1M)"
        )


def main() -> None:
    quick = "--quick" in sys.argv
    home = tempfile.mkdtemp(prefix="bench-loop-")
    os.environ["SM_MAGICS_HOME"] = home
    if "--memory" in sys.argv:  # one count in a fresh kernel: no allocator reuse between
        bench_memory(_shell(), [int(sys.argv[sys.argv.index("--memory") + 1])])
        return
    if "--startup" in sys.argv:  # only figures 4 and 4b
        bench_startup()
        bench_startup_sagemaker()
        return
    if "--first-job-sample" in sys.argv:
        _first_job_sample()
        return
    if "--first-line" in sys.argv:  # only figure 3, N attempts (default 7)
        index = sys.argv.index("--first-line") + 1
        attempts = int(sys.argv[index]) if index < len(sys.argv) else 7
        bench_first_line(_shell(), attempts)
        bench_first_job(attempts)
        return
    for count in (10_000, 100_000, 1_000_000):
        done = subprocess.run(
            [sys.executable, __file__, "--memory", str(count)], capture_output=True, text=True
        )
        print("".join(line + "\n" for line in done.stdout.splitlines() if line[:2] == "5."), end="")
    ip = _shell()
    bench_loop(ip, 3 if quick else 10)
    bench_first_line(ip, 3 if quick else 7)
    bench_first_job(3 if quick else 7)
    bench_startup()
    bench_startup_sagemaker()
    print(json.dumps({"home": home}))


if __name__ == "__main__":
    main()
