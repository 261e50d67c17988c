"""The detached process that runs one local processing job: the training supervisor's phases.

A processing job walks the same life as a training job (slot, inputs, N host processes,
stop, ``--max-run``, logs, ``state.json``, ledger), so :class:`ProcessingSupervisor` is the
training :class:`~.supervisor.Supervisor` with the processing container's contract in its
hooks:

* ``Downloading``: every input is linked (never copied) under each host's
  ``processing/<destination>``; a ``ShardedByS3Key`` input gives each host only its share
  of the files (:func:`~sm_magics.backends.processing.shard`), a ``FullyReplicated`` one
  all of them;
* each host gets ``config/processingjobconfig.json`` and ``config/resourceconfig.json``
  and runs ``python <code>/<entry point> <arguments>`` in the code folder, with the
  request's environment;
* ``Uploading`` (only when the script succeeded, as SageMaker's ``EndOfJob`` outputs):
  each output's folder of every host is copied to its destination, ``algo-1`` winning a
  name clash, one file at a time through a temporary name, so a reader never sees half a
  file.

Each host's folder is laid out as its ``/opt/ml`` (``processing/``, ``config/``): where
the job runs with ``/opt/ml`` bound to that folder (the parity work's namespaces), paths
in arguments and environment are the container's own; elsewhere every ``/opt/ml/...`` in
an ``--arg`` or ``--env`` value is rewritten to the real folder (:func:`localize`), so a
script that takes its paths as arguments, as SageMaker examples do, runs unchanged.

Run as ``python -m sm_magics.backends.local.processor <job-folder>``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from sm_magics.backends import processing
from sm_magics.backends.local.jobdir import JobDir
from sm_magics.backends.local.supervisor import Outcome, Supervisor
from sm_magics.packaging import iter_files

PROCESSING_STATUS = "Processing"
_OPT_ML = re.compile(r"(?<![\w./-])/opt/ml(?=/|$)")


class ProcessingDir(JobDir):
    """Paths inside a local processing job's folder (a :class:`JobDir` with ``processing/``)."""

    def opt_ml(self, host: str) -> Path:
        """Return the folder that is ``/opt/ml`` for ``host``."""
        return self.host_root(host)

    def container(self, host: str, path: str) -> Path:
        """Return the real path of a container path under ``/opt/ml`` for ``host``."""
        return self.opt_ml(host) / Path(path).relative_to("/opt/ml")

    @property
    def code(self) -> Path:
        """The staged code, ``/opt/ml/processing/input/code`` of ``algo-1``."""
        return self.container("algo-1", processing.CODE_DESTINATION)


def localize(value: str, opt_ml: Path) -> str:
    """Return ``value`` with each ``/opt/ml`` path prefix replaced by the real folder."""
    return _OPT_ML.sub(lambda _: str(opt_ml), value)


def _link(target: Path, source: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() or target.is_symlink():
        return
    target.symlink_to(source, target_is_directory=source.is_dir())


def link_input(dest: Path, source: Path, files: list[str] | None) -> None:
    """Make ``dest`` show ``source``: all of it (``files`` ``None``), or only ``files``.

    A folder is linked whole; a single file goes inside ``dest`` under its own name (an
    ``S3Prefix`` naming one object downloads it into the folder). A shard is a folder of
    links, one per file, at the files' relative paths.
    """
    if files is None:
        if source.is_dir():
            _link(dest, source)
        else:
            dest.mkdir(parents=True, exist_ok=True)
            _link(dest / source.name, source)
        return
    dest.mkdir(parents=True, exist_ok=True)
    for relative in files:
        _link(dest / relative, source / relative if source.is_dir() else source)


def input_files(source: Path) -> list[str]:
    """Return the files an input holds, relative to it, in key order (what gets sharded)."""
    if source.is_dir():
        return sorted(p.relative_to(source).as_posix() for p in iter_files(source))
    return [source.name]


def collect(sources: list[Path], dest: Path) -> int:
    """Copy every file under ``sources`` into ``dest`` (the first source wins a clash).

    Each file is written beside its final name and renamed over it. Returns how many
    files were stored.
    """
    stored: set[str] = set()
    for root in sources:
        if not root.is_dir():
            continue
        for path in iter_files(root):
            relative = path.relative_to(root).as_posix()
            if relative in stored:
                continue
            target = dest / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
            os.close(fd)
            try:
                shutil.copy2(path, tmp)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            stored.add(relative)
    return len(stored)


class ProcessingSupervisor(Supervisor):
    """The supervisor of a processing job; see the module docstring."""

    label = "Processing"
    running_phase = PROCESSING_STATUS
    running_message = "Processing image download completed. Processing in progress."
    uploading_message = "Uploading processing outputs"
    installs_bundled_requirements = False  # processing containers do not

    def __init__(self, job: JobDir) -> None:
        super().__init__(ProcessingDir(job.root))
        self.folder = ProcessingDir(job.root)
        #: Whether the hosts see their folder at /opt/ml (namespaces); else paths are rewritten.
        self.bound = bool(self.spec.get("opt_ml_bound"))

    def _opt_ml_seen(self, host: str) -> Path:
        return Path("/opt/ml") if self.bound else self.folder.opt_ml(host)

    def _prepare_inputs(self) -> None:
        """Link each input under every host's ``processing/`` (its share, if sharded)."""
        for item in self.spec["inputs"]:
            source = Path(item["resolved"])
            shards: list[list[str] | None]
            if item["distribution"] == processing.SHARDED_BY_S3_KEY:
                shards = list(processing.shard(input_files(source), len(self.hosts_names)))
            else:
                shards = [None] * len(self.hosts_names)
            for host, files in zip(self.hosts_names, shards, strict=True):
                link_input(self.folder.container(host, item["destination"]), source, files)
        for host in self.hosts_names[1:]:  # the code is shared, as the one input "code" is
            _link(self.folder.container(host, processing.CODE_DESTINATION), self.folder.code)
        for host in self.hosts_names:
            for output in self.spec["outputs"]:
                self.folder.container(host, output["source"]).mkdir(parents=True, exist_ok=True)

    def _script_args(self) -> list[str]:
        return [str(a) for a in self.spec.get("arguments") or []]

    def _host_launch(self, host: str, python: str) -> tuple[list[str], dict[str, str], Path]:
        """Return the training launcher's command, with ``/opt/ml`` bound where it can be.

        In its namespaces a host sees its folder at ``/opt/ml`` (paths stay the
        container's, as on SageMaker); elsewhere ``/opt/ml`` in arguments, environment and
        config files is rewritten to the folder.
        """
        from sm_magics.backends.local.host_launch import Launcher

        if self._launcher is None:
            self._launcher = Launcher(self.job, self.spec, self.hosts_names, self._say)
            self.bound = self.bound or self._launcher.namespaced
        opt_ml = self._opt_ml_seen(host)
        self._write_config(host, opt_ml)
        env = dict(os.environ)
        env.update({k: localize(v, opt_ml) for k, v in (self.spec["environment"] or {}).items()})
        env["PYTHONUNBUFFERED"] = "1"  # lines reach the log as they are printed
        code = opt_ml / Path(processing.CODE_DESTINATION).relative_to("/opt/ml")
        args = [localize(a, opt_ml) for a in self._script_args()]
        return self._launcher.launch(host, python, str(code / self.spec["entry_point"]), args, env)

    def _write_config(self, host: str, opt_ml: Path) -> None:
        config_dir = self.folder.opt_ml(host) / "config"
        config_dir.mkdir(parents=True, exist_ok=True)
        spec = processing.ProcessingSpec.from_json(self.spec)
        inputs = [
            {
                "InputName": processing.CODE_INPUT,
                "S3Input": processing.s3_input(
                    self.folder.code.as_uri(), processing.CODE_DESTINATION
                ),
            },
            *(
                {
                    "InputName": i["name"],
                    "S3Input": processing.s3_input(
                        Path(i["resolved"]).as_uri(), i["destination"], i["distribution"]
                    ),
                }
                for i in self.spec["inputs"]
            ),
        ]
        outputs = [
            {
                "OutputName": o["name"],
                "S3Output": {
                    "S3Uri": o["uri"],
                    "LocalPath": o["source"],
                    "S3UploadMode": "EndOfJob",
                },
            }
            for o in self.spec["outputs"]
        ]
        config = processing.job_config(
            spec, image=self.spec.get("image") or "local", inputs=inputs, outputs=outputs
        )
        config["ProcessingJobArn"] = self.spec.get("arn")
        text = localize(json.dumps(config, indent=1, sort_keys=True), opt_ml)
        (config_dir / "processingjobconfig.json").write_text(text)
        resource = processing.resource_config(host, self.hosts_names)
        (config_dir / "resourceconfig.json").write_text(json.dumps(resource, indent=1))

    def _upload(self, outcome: Outcome) -> None:
        """Store each output (every host's folder, ``algo-1`` first); only after success."""
        if outcome.status != "Completed":
            return
        for output in self.spec["outputs"]:
            sources = [self.folder.container(h, output["source"]) for h in self.hosts_names]
            dest = Path(output["path"])
            dest.mkdir(parents=True, exist_ok=True)
            collect(sources, dest)


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m sm_magics.backends.local.processor <job-folder>``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m sm_magics.backends.local.processor JOB_FOLDER", file=sys.stderr)
        return 2
    return ProcessingSupervisor(JobDir(Path(args[0]))).run()


if __name__ == "__main__":
    sys.exit(main())
