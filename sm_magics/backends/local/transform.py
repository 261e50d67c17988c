"""The detached process that runs one local batch transform job.

It loads the model with the same handler contract as an endpoint
(:mod:`.inference`), then sends every file of the input folder through it:

* ``SplitType=Line`` with ``text/csv``: lines in mini-batches of up to
  :data:`MAX_RECORDS_PER_REQUEST` records per request (SageMaker's ``MultiRecord``); each
  request's answer is appended, line-assembled;
* ``SplitType=Line`` with JSON lines (``application/jsonlines``, ``application/json``):
  one request per line (``SingleRecord``), one answer line per input line;
* ``SplitType=None``: the whole file is one request.

Results go to ``<output>/<relative input path>.out``, each written to a temporary file and
renamed, so an output file is complete or absent. A record that fails fails the job with
the file and line in the reason, as SageMaker does by default.

The model is loaded as a serving worker loads it (:mod:`.worker_launch`): on Linux, where
user and mount namespaces work, the process re-executes itself under the namespace
launcher with the extracted model bound at ``/opt/ml/model`` and hands ``model_fn`` that
path, so a ``model_fn`` that opens ``/opt/ml/model/...`` directly works in a transform as
on an endpoint and on SageMaker. Elsewhere it runs as before and, if the handler code names
``/opt/ml``, the transform's log says once what will not work.

Run as ``python -m sm_magics.backends.local.transform <job-folder>``
(``... <job-folder> --in-namespaces`` is that re-execution, already inside them).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

from sm_magics.backends import statuses
from sm_magics.backends.local import inference, logstore, serving_defaults
from sm_magics.backends.local.jobdir import JobDir
from sm_magics.backends.local.processes import start_ticks
from sm_magics.backends.local.worker_launch import CONTAINER_MODEL_DIR, WorkerLauncher
from sm_magics.ledger import Ledger
from sm_magics.packaging import safe_extract

MAX_RECORDS_PER_REQUEST = 1000
JSON_LINES = ("application/jsonlines", "application/jsonl", "application/x-jsonlines")
#: The argument of the re-execution under the namespace launcher (see the module docstring).
IN_NAMESPACES = "--in-namespaces"
_MODULE = "sm_magics.backends.local.transform"  # not __name__: it is __main__ when run


class Stopped(Exception):
    """A stop was requested."""


def _visible_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def input_files(source: Path) -> list[Path]:
    """Return the files to transform, sorted.

    ``source`` is a file, a folder (every file under it), or, as an S3 prefix is, the
    beginning of names: ``data/part-`` means every file whose path starts with it.
    """
    if source.is_file():
        return [source]
    if source.is_dir():
        return _visible_files(source)
    parent = source.parent
    if not parent.is_dir():
        return []
    matches: list[Path] = []
    for entry in sorted(parent.iterdir()):
        if entry.name.startswith(source.name) and not entry.name.startswith("."):
            matches += [entry] if entry.is_file() else _visible_files(entry)
    return matches


def relative_name(path: Path, source: Path) -> str:
    """Return the output name of ``path``: relative to the folder or prefix it came from."""
    base = source if source.is_dir() else source.parent
    return path.relative_to(base).as_posix()


def requests_of(path: Path, content_type: str, split_type: str) -> Iterator[tuple[int, bytes, str]]:
    """Yield ``(first line number, body, content type)`` of each request one file makes."""
    kind = inference.base_type(content_type)
    if split_type != "Line":
        yield 1, path.read_bytes(), content_type
        return
    with open(path, "rb") as handle:
        if kind in (*JSON_LINES, inference.JSON):
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield number, line.rstrip(b"\r\n"), inference.JSON
            return
        batch: list[bytes] = []
        first = 1
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            if not batch:
                first = number
            batch.append(line.rstrip(b"\r\n"))
            if len(batch) >= MAX_RECORDS_PER_REQUEST:
                yield first, b"\n".join(batch) + b"\n", content_type
                batch = []
        if batch:
            yield first, b"\n".join(batch) + b"\n", content_type


class TransformRunner:
    """Drives one transform job; the only writer of its ``state.json`` while it lives.

    ``launcher`` decided namespaces were unavailable (the model is loaded from the job
    folder, the fallback notice may be logged); ``None`` means this process already runs
    inside them, the model at ``/opt/ml/model``.
    """

    def __init__(self, job: JobDir, launcher: WorkerLauncher | None = None) -> None:
        self.job = job
        self.launcher = launcher
        self.spec: dict[str, Any] = job.read_spec()
        self.state: dict[str, Any] = job.read_state()
        self.ledger = Ledger()
        self.stop_requested = threading.Event()
        self.log = logstore.HostLog(job.logs, "algo-1")

    def _save(self, **ledger_changes: Any) -> None:
        self.job.write_state(self.state)
        try:
            self.ledger.update_job(
                self.job.name,
                status=self.state["status"],
                secondary_status=self.state["status"],
                **ledger_changes,
            )
        except Exception as exc:  # noqa: BLE001 - the job goes on without the index
            print(f"ledger update failed: {exc}", file=sys.stderr)

    def run(self) -> int:
        """Transform everything; return the process exit code."""
        signal.signal(signal.SIGTERM, lambda *_: self.stop_requested.set())
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if self.job.stop_marker.exists():  # stopped before the handler above was in place
            self.stop_requested.set()
        self.state.update(
            supervisor_pid=os.getpid(),
            supervisor_start=start_ticks(os.getpid()),
            training_start=time.time(),
        )
        self._save(started_at=self.state["training_start"])
        try:
            self._transform()
            status, reason = statuses.COMPLETED, None
        except Stopped:
            status, reason = statuses.STOPPED, None
        except (inference.LoadError, inference.InferenceError, OSError, ValueError) as exc:
            status, reason = statuses.FAILED, f"ClientError: {exc}"
        except Exception:  # noqa: BLE001 - whatever broke, the job must end Failed
            print(traceback.format_exc(), file=sys.stderr)
            status = statuses.FAILED
            reason = f"InternalServerError: {traceback.format_exc().splitlines()[-1]}"
        if reason:
            self.log.write(reason, "s")
        self.log.write(f"Transform job {status.lower()}", "s")
        self.log.close()
        now = time.time()
        self.state.update(status=status, failure_reason=reason, ended=now, training_end=now)
        self._save(ended_at=now, failure_reason=reason)
        return 0

    def _load(self) -> tuple[inference.Handlers, Any]:
        model_dir = self.job.root / "model"
        safe_extract(Path(self.spec["model_path"]), model_dir)
        candidates = [Path(p) for p in self.spec.get("script_candidates", [])]
        candidates.append(model_dir / "code" / "inference.py")
        framework, why = serving_defaults.for_variant(self.spec, model_dir)
        required = framework not in serving_defaults.HAS_DEFAULT_MODEL_FN
        script = inference.find_entry_point(candidates, required=required)
        seen_dir = CONTAINER_MODEL_DIR if self.launcher is None else model_dir
        if self.launcher is not None:
            code = script.parent if script is not None else None
            notice = self.launcher.notice(code, "transform job")
            if notice is not None:
                self.log.write(notice, "s")
        os.environ["SM_MODEL_DIR"] = str(seen_dir)  # as a serving worker has it
        os.chdir(script.parent if script is not None else model_dir)
        handlers = inference.load_handlers(script, serving_defaults.defaults_for(framework))
        source = script.name if script is not None else "no script"
        self.log.write(
            f"Loaded the model with the handlers of {source} and the {framework} "
            f"container's serving defaults (chosen from {why})",
            "s",
        )
        return handlers, inference.load_model(handlers, seen_dir)

    def _transform(self) -> None:
        handlers, model = self._load()
        source = Path(self.spec["input_path"])
        output = Path(self.spec["output_path"])
        output.mkdir(parents=True, exist_ok=True)
        accept = self.spec.get("accept") or inference.DEFAULT_ACCEPT
        files = input_files(source)
        records = 0
        for path in files:
            relative = relative_name(path, source)
            target = output / f"{relative}.out"
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.partial")
            count = 0
            with open(partial, "wb") as out:
                for line, body, content_type in requests_of(
                    path, self.spec["content_type"], self.spec["split_type"]
                ):
                    if self.stop_requested.is_set():
                        partial.unlink(missing_ok=True)
                        raise Stopped
                    try:
                        result, _type = handlers.invoke(model, body, content_type, accept)
                    except inference.InferenceError as exc:
                        partial.unlink(missing_ok=True)
                        bad_line, error = _first_bad_record(
                            handlers, model, body, content_type, accept, line, exc
                        )
                        raise inference.HandlerError(
                            f"{relative}, line {bad_line}: {error}"
                        ) from exc
                    out.write(result if result.endswith(b"\n") else result + b"\n")
                    count += max(1, body.count(b"\n"))
            partial.replace(target)
            records += count
            self.log.write(f"{relative}: {count} records -> {target.name}", "s")
            self.state.update(files_done=self.state.get("files_done", 0) + 1, records=records)
            self.job.write_state(self.state)
        self.state["files_total"] = len(files)


def _first_bad_record(
    handlers: inference.Handlers,
    model: Any,
    body: bytes,
    content_type: str,
    accept: str,
    first_line: int,
    error: inference.InferenceError,
) -> tuple[int, inference.InferenceError]:
    """Find the record of a failed mini-batch that fails on its own, to name its line.

    Runs only after a batch failed: each record of it is sent alone until one fails. If
    none does alone, the batch's first line and error are reported.
    """
    records = body.split(b"\n")
    if len(records) <= 2:  # one record (and the trailing newline)
        return first_line, error
    for offset, record in enumerate(records):
        if not record.strip():
            continue
        try:
            handlers.invoke(model, record + b"\n", content_type, accept)
        except inference.InferenceError as single:
            return first_line + offset, single
    return first_line, error


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m sm_magics.backends.local.transform <job-folder>``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2) or args[1:] not in ([], [IN_NAMESPACES]):
        print(f"usage: python -m {_MODULE} JOB_FOLDER [{IN_NAMESPACES}]", file=sys.stderr)
        return 2
    job = JobDir(Path(args[0]))
    if args[1:] == [IN_NAMESPACES]:
        return TransformRunner(job).run()
    launcher = WorkerLauncher()
    if launcher.namespaced:
        _reenter_in_namespaces(job, launcher)
    return TransformRunner(job, launcher).run()


def _reenter_in_namespaces(job: JobDir, launcher: WorkerLauncher) -> NoReturn:
    """Execute this job again under the namespace launcher, ``/opt/ml/model`` bound.

    The model folder is bound while still empty and filled by the runner inside (the same
    folder, seen at both paths), so extraction errors still end the job Failed with their
    reason. Both execs keep this pid, the one the job's state and stop signal name.
    """
    model_dir = job.root / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    command = launcher.command(
        [sys.executable, "-m", _MODULE, str(job.root), IN_NAMESPACES], model_dir, Path.cwd()
    )
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(command[0], command)  # noqa: S606 - our own launcher and module


if __name__ == "__main__":
    sys.exit(main())
