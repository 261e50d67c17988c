"""``%sm_invoke`` and ``Endpoint.invoke`` against a raw keep-alive HTTP request, same run.

What a user pays per invocation beyond the request itself. On one local endpoint (a
LogisticRegression fitted on iris, one worker), single-row JSON requests, measured in
alternating rounds so drift hits every path alike:

1. raw: the request already encoded (line, headers and body) written in one ``sendall``
   on one kept-alive ``TCP_NODELAY`` socket, the answer read by Content-Length -- the
   floor any Python client can reach; and ``http.client`` on a kept-alive connection;
2. ``Endpoint.invoke([row])``: encoding, the limit check, the kept-alive request, decoding;
3. ``%sm_invoke <name> [[...]]`` through IPython's ``run_line_magic``: parsing the line too;
4. a new connection per request (``urllib``), what every invocation paid before.

Prints p50 and p90 of each and the ratios to raw (target: ``%sm_invoke`` within 1.3x).
Run: ``python benchmarks/bench_invoke.py`` (about a minute). Not a test: it prints numbers.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import socket
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_serving import HANDLERS, ROW, describe_machine, make_model  # noqa: E402

BODY = json.dumps([ROW]).encode()


@contextlib.contextmanager
def endpoint(folder: Path) -> Iterator[tuple[str, str]]:
    """Deploy the iris model locally with one worker; yield ``(name, url)``."""
    from sm_magics.backends.local.engine import LocalBackend
    from sm_magics.backends.specs import EndpointSpec, VariantSpec
    from sm_magics.packaging import write_tar_gz

    model_dir = make_model("lr", folder)
    script = folder / "inference.py"
    script.write_text(HANDLERS)
    archive = folder / "model.tar.gz"
    write_tar_gz(model_dir, archive)
    backend = LocalBackend()
    name = f"bench-invoke-{os.getpid()}"
    backend.create_endpoint(
        EndpointSpec(name=name, variants=[VariantSpec(model_data=str(archive), entry_point=script)])
    )
    try:
        deadline = time.monotonic() + 180
        while backend.describe_endpoint(name)["EndpointStatus"] != "InService":
            if time.monotonic() > deadline:
                raise TimeoutError("the endpoint did not start")
            time.sleep(0.1)
        yield name, str(backend.describe_endpoint(name)["Url"])
    finally:
        backend.delete_endpoint(name)


def timed(call: Callable[[], Any], count: int) -> tuple[list[float], float]:
    """Return the latency of ``count`` calls in milliseconds, and this process's CPU seconds.

    The CPU time is what the client itself spends (encoding, parsing the line, reading the
    answer); on a busy machine it is a steadier figure than the latency, which waits for
    the router and the worker to be scheduled too.
    """
    times = []
    cpu = time.process_time()
    for _ in range(count):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times, time.process_time() - cpu


def main() -> None:
    """Measure every path in alternating rounds and print the table and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=500, help="requests per path per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"bench_invoke: {time.strftime('%Y-%m-%d %H:%M %Z')} on {describe_machine()}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    with tempfile.TemporaryDirectory(prefix="bench-invoke-") as tmp:
        os.environ["SM_MAGICS_HOME"] = str(Path(tmp) / "home")
        with endpoint(Path(tmp)) as (name, url):
            from IPython.core.interactiveshell import InteractiveShell

            from sm_magics.api import Session

            shell = InteractiveShell.instance()
            shell.run_line_magic("load_ext", "sm_magics")
            handle = Session().endpoint(name)
            host = url.split("//", 1)[1]
            raw_connection = http.client.HTTPConnection(host, timeout=60)
            path = f"/endpoints/{name}/invocations"
            headers = {"Content-Type": "application/json"}

            def http_client() -> None:
                raw_connection.request("POST", path, body=BODY, headers=headers)
                raw_connection.getresponse().read()

            sock = socket.create_connection((host.split(":")[0], int(host.split(":")[1])))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            reader = sock.makefile("rb")
            encoded = (
                f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(BODY)}\r\n\r\n"
            ).encode() + BODY

            def raw() -> None:
                sock.sendall(encoded)
                length = 0
                while (line := reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                reader.read(length)

            def fresh() -> None:
                request = urllib.request.Request(f"{url}{path}", BODY, headers, method="POST")
                with urllib.request.urlopen(request, timeout=60) as response:
                    response.read()

            line = f"{name} [[{', '.join(map(str, ROW))}]]"
            paths: dict[str, Callable[[], Any]] = {
                "raw keep-alive socket": raw,
                "http.client keep-alive": http_client,
                "Endpoint.invoke": lambda: handle.invoke([ROW]),
                "%sm_invoke": lambda: shell.run_line_magic("sm_invoke", line),
                "new connection per request (urllib)": fresh,
            }
            for call in paths.values():  # warm up, and check the answers
                for _ in range(50):
                    call()
            assert handle.invoke([ROW]) == [0]
            results: dict[str, list[float]] = {label: [] for label in paths}
            cpu: dict[str, float] = dict.fromkeys(paths, 0.0)
            for _ in range(args.rounds):
                for label, call in paths.items():
                    times, seconds = timed(call, args.count)
                    results[label] += times
                    cpu[label] += seconds
    base = statistics.median(results["raw keep-alive socket"])
    print(f"\n{args.rounds} rounds x {args.count} requests per path, one worker, c=1\n")
    print("| path | p50 ms | p90 ms | p50 / raw | client CPU ms/request |")
    print("|---|---|---|---|---|")
    for label, times in results.items():
        ordered = sorted(times)
        p50 = statistics.median(ordered)
        p90 = ordered[int(0.9 * len(ordered))]
        per_request = 1000 * cpu[label] / len(times)
        print(f"| {label} | {p50:.3f} | {p90:.3f} | {p50 / base:.2f}x | {per_request:.3f} |")
    print(
        f"\n%sm_invoke / raw keep-alive: {statistics.median(results['%sm_invoke']) / base:.2f}x "
        "(target <= 1.3x)",
        flush=True,
    )


if __name__ == "__main__":
    main()
