"""One serving worker: loads a model with the user's handlers and answers requests.

Started by the endpoint router with one end of a socketpair as file descriptor ``--fd``.
It loads the handlers and the model, sends ``{"ready": true}`` (or ``{"ready": false,
"error": ...}`` and exits), then answers request frames one at a time until the router
closes the socket. A handler that raises answers an error frame; the worker lives on.
Its stdout and stderr are the variant's log stream for this worker.

Run as ``python -m sm_magics.backends.local.worker --fd N [--script S] --model-dir D
[--framework F]``: ``F`` names the container whose serving defaults fill in the handlers
the script leaves out (all of them without ``--script``).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import time
from pathlib import Path

from sm_magics.backends.local import frames, inference, serving_defaults


def serve(sock: socket.socket, handlers: inference.Handlers, model: object) -> None:
    """Answer frames until the router closes the connection."""
    reader = sock.makefile("rb")
    while True:
        try:
            header, body = frames.read_buffered(reader)
        except (EOFError, ConnectionError):
            return
        started = time.perf_counter()
        try:
            payload, content_type = handlers.invoke(
                model, body, header.get("content_type") or "", header.get("accept") or ""
            )
            reply = {"status": 200, "content_type": content_type}
        except inference.InferenceError as exc:
            payload = str(exc).encode()
            reply = {"status": exc.status, "code": exc.code, "content_type": "text/plain"}
            print(f"{exc.code}: {exc}", file=sys.stderr, flush=True)
        reply["model_ms"] = (time.perf_counter() - started) * 1000
        sock.sendall(frames.encode(reply, payload))


def main(argv: list[str] | None = None) -> int:
    """Entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--script", type=Path, default=None)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--framework", default=serving_defaults.SKLEARN)
    args = parser.parse_args(argv)
    # The router stops us by closing the socket or with SIGTERM; Ctrl-C in a terminal that
    # started the kernel must not reach us (we are in the router's session anyway).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=args.fd)
    try:
        os.chdir(args.script.parent if args.script is not None else args.model_dir)
        defaults = serving_defaults.defaults_for(args.framework)
        handlers = inference.load_handlers(args.script, defaults)
        model = inference.load_model(handlers, args.model_dir)
    except inference.LoadError as exc:
        print(str(exc), file=sys.stderr, flush=True)
        sock.sendall(frames.encode({"ready": False, "error": str(exc)}))
        return 1
    source = args.script.name if args.script is not None else "no script"
    print(
        f"Model loaded from {args.model_dir} with handlers of {source} "
        f"and the {defaults.name} container's serving defaults",
        flush=True,
    )
    sock.sendall(frames.encode({"ready": True, "pid": os.getpid()}))
    serve(sock, handlers, model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
