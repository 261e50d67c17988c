"""CloudWatch log following: our reader vs the SageMaker SDK v2 pattern, same job, same run.

A 4-host training job on moto (``ThreadedMotoServer`` on 127.0.0.1): a writer thread
puts log lines into ``/aws/sagemaker/TrainingJobs`` streams ``<job>/algo-N-<epoch>`` at a
steady rate for about a minute of real time, the hosts' streams appearing one after the
other as containers start. Two followers read the same streams at the same time:

* **ours**: :class:`sm_magics.logs.LogFollower` (the widget's thread: polls every 0.2 s
  while lines arrive, backing off to 2 s; a status describe every 5 s on this backend)
  over ``SageMakerBackend.read_training_logs`` (:mod:`sm_magics.backends.sagemaker.cwlogs`:
  one ``FilterLogEvents`` a poll for all hosts while the job runs, an exact per-stream
  read after it ends);
* **baseline**: the SDK v2 ``logs_for_job`` loop, reimplemented minimally from
  ``sagemaker/session.py`` and ``sagemaker/logs.py``: a 5 s wait, then every 10 s one
  ``DescribeLogStreams`` (v2 lists again on every poll) and, per stream, ``GetLogEvents``
  from the last timestamp until an empty page; ``DescribeTrainingJob`` every 30 s; after
  the job ends, one more pause and read.

moto cannot run a job, so ``DescribeTrainingJob`` is scripted (``InProgress`` while the
writer writes, then ``Completed``) by wrapping moto's client; every other call is real
HTTP to moto. API calls are counted per client with botocore's ``before-call`` event, and
each line's added latency is its delivery time minus its timestamp. moto ingests
instantly; on AWS both followers would see the same extra ingestion delay on top.

Run: ``.venv/bin/python benchmarks/bench_cwlogs.py [--seconds 60]`` (about 100 s: the
baseline notices the end up to 30 s late, then reads once more after 10 s).
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import platform
import random
import statistics
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sm_magics.logs import LogFollower

HOSTS = 4
GROUP = "/aws/sagemaker/TrainingJobs"
JOB = "bench-cwlogs"
REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerExecution"


class CallCounter:
    """Counts a client's API calls by operation, with the time of each."""

    def __init__(self) -> None:
        self.times: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-call", self._count)

    def _count(self, event_name: str, **_: Any) -> None:
        with self._lock:
            self.times.append((time.time(), event_name.rsplit(".", 1)[-1]))

    def between(self, start: float, end: float) -> Counter[str]:
        with self._lock:
            return Counter(op for t, op in self.times if start <= t <= end)

    def total(self) -> Counter[str]:
        with self._lock:
            return Counter(op for _, op in self.times)


class Status:
    """The scripted job status both followers see; counts each follower's describes."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.describes: Counter[str] = Counter()

    def value(self, who: str) -> str:
        self.describes[who] += 1
        return "Completed" if self.done.is_set() else "InProgress"


def make_session(moto_url: str, status: Status) -> Any:
    """An AwsSession on moto whose DescribeTrainingJob status is scripted."""
    from sm_magics.backends.sagemaker.aws import AwsSession

    class Scripted:
        def __init__(self, real: Any) -> None:
            self.real = real

        def __getattr__(self, name: str) -> Any:
            return getattr(self.real, name)

        def describe_training_job(self, **params: Any) -> dict[str, Any]:
            response: dict[str, Any] = self.real.describe_training_job(**params)
            state = status.value("ours")
            response["TrainingJobStatus"] = state
            response["SecondaryStatus"] = "Completed" if state == "Completed" else "Training"
            return response

    class ScriptedAws(AwsSession):
        scripted: Scripted | None = None

        def client(self, service: str) -> Any:
            real = super().client(service)
            if service != "sagemaker":
                return real
            if self.scripted is None:
                self.scripted = Scripted(real)
            return self.scripted

    return ScriptedAws(REGION, role=ROLE, endpoint_url=moto_url)


# -- the writer ---------------------------------------------------------------------------------


def write_logs(
    logs: Any, seconds: float, rate: float, status: Status, written: list[tuple[int, str, str]]
) -> tuple[float, float]:
    """Write ``rate`` lines a second per host for ``seconds``; return (start, end) times."""
    logs.create_log_group(logGroupName=GROUP)
    epoch = int(time.time())
    start = time.time()
    rng = random.Random(7)
    started: set[int] = set()
    next_at = {host: start + (host - 1) * 1.5 for host in range(1, HOSTS + 1)}  # staggered
    sequence = 0
    while True:
        host = min(next_at, key=lambda h: next_at[h])
        wait = next_at[host] - time.time()
        if wait > 0:
            time.sleep(wait)
        if time.time() - start >= seconds:
            break
        stream = f"{JOB}/algo-{host}-{epoch}"
        if host not in started:
            logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
            started.add(host)
        sequence += 1
        stamp = int(time.time() * 1000)
        message = f"step {sequence} loss={rng.random():.4f} on algo-{host}"
        logs.put_log_events(
            logGroupName=GROUP,
            logStreamName=stream,
            logEvents=[{"timestamp": stamp, "message": message}],
        )
        written.append((stamp, f"algo-{host}", message))
        next_at[host] += rng.uniform(0.5, 1.5) / rate
    end = time.time()
    status.done.set()
    return start, end


# -- the baseline: SDK v2 logs_for_job -----------------------------------------------------------


def sdk_v2_follow(
    logs: Any, status: Status, delivered: list[tuple[float, int, str, str]], instance_count: int
) -> None:
    """SDK v2 ``Session.logs_for_job(wait=True)``, minimally: same calls, same cadence."""
    poll, describe_every = 10.0, 30.0
    time.sleep(5)  # _wait_until's first sleep before the first describe
    status.value("sdk")
    last_describe = time.time()
    positions: dict[str, tuple[int, int]] = {}  # stream -> (timestamp, skip)
    state = "TAILING"
    while True:
        # _flush_log_streams: v2 lists again on every poll (its stream list never sticks).
        streams: list[str] = []
        try:
            page = logs.describe_log_streams(
                logGroupName=GROUP,
                logStreamNamePrefix=f"{JOB}/",
                orderBy="LogStreamName",
                limit=min(instance_count, 50),
            )
            streams = [s["logStreamName"] for s in page["logStreams"]]
        except logs.exceptions.ResourceNotFoundException:
            pass
        merged: list[tuple[int, str, str, str]] = []
        for stream in streams:
            start_time, skip = positions.get(stream, (0, 0))
            token: str | None = None
            while True:  # sagemaker.logs.log_stream: until an empty page
                extra = {"nextToken": token} if token else {}
                response = logs.get_log_events(
                    logGroupName=GROUP,
                    logStreamName=stream,
                    startTime=start_time,
                    startFromHead=True,
                    **extra,
                )
                token = response["nextForwardToken"]
                events = response["events"]
                if not events:
                    break
                if len(events) > skip:
                    events, skip = events[skip:], 0
                else:
                    skip, events = skip - len(events), []
                for event in events:
                    merged.append((event["timestamp"], stream, event["message"], stream))
        merged.sort(key=lambda e: e[0])
        now = time.time()
        for stamp, stream, message, _ in merged:
            old_ts, old_skip = positions.get(stream, (0, 0))
            positions[stream] = (stamp, old_skip + 1 if stamp == old_ts else 1)
            host = stream.split("/", 1)[1].rsplit("-", 1)[0]
            delivered.append((now, stamp, host, message))
        if state == "COMPLETE":
            return
        time.sleep(poll)
        if state == "JOB_COMPLETE":
            state = "COMPLETE"
        elif time.time() - last_describe >= describe_every:
            last_describe = time.time()
            if status.value("sdk") == "Completed":
                state = "JOB_COMPLETE"


# -- ours ---------------------------------------------------------------------------------------


def ours_follow(session: Any, delivered: list[tuple[float, int, str, str]]) -> LogFollower:
    from sm_magics.api import Job

    job = Job(session, JOB, "sagemaker")

    def on_events(events: list[Any]) -> None:
        now = time.time()
        delivered.extend((now, e.timestamp, e.host, e.message) for e in events)

    from sm_magics.logs import LogFollower

    follower = LogFollower(job, on_events, lambda _: None)
    follower.start()
    return follower


# -- report -------------------------------------------------------------------------------------


def summary(
    name: str, delivered: list[tuple[float, int, str, str]], written: list[tuple[int, str, str]]
) -> dict[str, float]:
    keys = [(stamp, host, message) for _, stamp, host, message in delivered]
    latency = sorted((now * 1000 - stamp) / 1000 for now, stamp, _, _ in delivered)
    missing = len(set(written) - set(keys))
    duplicates = len(keys) - len(set(keys))
    ordered = all(a <= b for a, b in itertools.pairwise(keys))
    quantiles = statistics.quantiles(latency, n=20) if len(latency) > 1 else [0.0] * 19
    result = {
        "lines": len(keys),
        "missing": missing,
        "duplicates": duplicates,
        "median": statistics.median(latency) if latency else float("nan"),
        "p95": quantiles[18],
        "max": latency[-1] if latency else float("nan"),
    }
    print(
        f"  {name:8s} lines {len(keys)}/{len(written)}, missing {missing}, duplicates "
        f"{duplicates}, globally in timestamp order: {ordered}; added latency median "
        f"{result['median']:.2f} s, p95 {result['p95']:.2f} s, max {result['max']:.2f} s"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the job writes")
    parser.add_argument("--rate", type=float, default=2.0, help="lines a second per host")
    args = parser.parse_args()

    home = tempfile.mkdtemp(prefix="bench-cwlogs-")
    os.environ.update(
        SM_MAGICS_HOME=home,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
        NO_PROXY="127.0.0.1,localhost",
    )
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    import boto3
    from moto.server import ThreadedMotoServer

    from sm_magics.api import Session
    from sm_magics.backends.specs import TrainingSpec
    from sm_magics.ledger import Ledger

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    moto_url = f"http://{host}:{port}"
    try:
        status = Status()
        aws = make_session(moto_url, status)
        session = Session("sagemaker", region=REGION, ledger=Ledger(), aws=aws)
        backend = session.backend()
        backend.create_training_job(
            TrainingSpec(
                name=JOB,
                entry_point="train.py",
                script="print('hi')\n",
                image="763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5-cpu-py311",
                instance_count=HOSTS,
            )
        )
        ours_calls, sdk_calls = CallCounter(), CallCounter()
        ours_calls.attach(aws.client("logs"))
        writer_logs = boto3.client("logs", endpoint_url=moto_url, region_name=REGION)
        sdk_logs = boto3.client("logs", endpoint_url=moto_url, region_name=REGION)
        sdk_calls.attach(sdk_logs)

        written: list[tuple[int, str, str]] = []
        ours: list[tuple[float, int, str, str]] = []
        sdk: list[tuple[float, int, str, str]] = []
        follower = ours_follow(session, ours)
        baseline = threading.Thread(target=sdk_v2_follow, args=(sdk_logs, status, sdk, HOSTS))
        baseline.start()
        started = time.time()
        window = write_logs(writer_logs, args.seconds, args.rate, status, written)
        follower.join()
        ours_done = time.time() - started
        baseline.join()
        sdk_done = time.time() - started
        if follower.error is not None:
            raise follower.error
    finally:
        server.stop()

    minutes = (window[1] - window[0]) / 60
    print(
        f"\nbench_cwlogs: {HOSTS} hosts x {args.rate:g} lines/s for {args.seconds:.0f} s "
        f"({len(written)} lines), moto {moto_url}, "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
        f"Python {platform.python_version()}, {os.cpu_count()} cores"
    )
    print("delivery (every line, exactly once?):")
    mine = summary("ours", ours, written)
    base = summary("SDK v2", sdk, written)
    print("CloudWatch Logs calls per minute while the job wrote:")
    rows = {}
    for name, counter in (("ours", ours_calls), ("SDK v2", sdk_calls)):
        during = counter.between(*window)
        per_minute = {op: n / minutes for op, n in during.items()}
        total = sum(per_minute.values())
        rows[name] = total
        detail = ", ".join(f"{op} {v:.1f}" for op, v in sorted(per_minute.items()))
        whole = counter.total()
        print(
            f"  {name:8s} {total:6.1f}/min ({detail}); whole follow: {sum(whole.values())} calls "
            f"({', '.join(f'{op} {n}' for op, n in sorted(whole.items()))})"
        )
    print(
        f"DescribeTrainingJob: ours {status.describes['ours']} (LogFollower's status every 5 s,"
        f" done {ours_done:.0f} s after start), SDK v2 {status.describes['sdk']} (every 30 s, "
        f"done {sdk_done:.0f} s after start)"
    )
    print(
        f"ratios ours/SDK v2: CloudWatch calls per minute {rows['ours'] / rows['SDK v2']:.2f}, "
        f"median added latency {mine['median'] / base['median']:.2f}, "
        f"p95 {mine['p95'] / base['p95']:.2f}"
    )


if __name__ == "__main__":
    main()
