"""``%%sm_process``: processing jobs (data preparation, evaluation) from a notebook cell.

A third ``Magics`` class beside :class:`~sm_magics.magics.SageMakerMagics` and
:class:`~sm_magics.serving_magics.ServingMagics`, sharing their configuration and session,
so each file keeps one topic. Same rules: parse, one API call (:meth:`Session.process`),
display; errors become one ``UsageError`` line; nothing blocks without ``--wait``. Once the
job exists it is a job like any other: ``%sm_jobs``, ``%sm_logs``, ``%sm_wait``,
``%sm_stop``, the widget, the side panel and ``%sm_cleanup`` know it.
"""

from __future__ import annotations

import argparse
import shlex

from IPython.core.error import UsageError
from IPython.core.magic import line_cell_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments

from sm_magics.api import Job
from sm_magics.display import widgets_available
from sm_magics.logs import follow_in_background
from sm_magics.magic_parsing import (
    backend_option,
    bind_out,
    force_option,
    magic_call,
    out_option,
    parse_key_values,
)
from sm_magics.magics import SessionMagics


def _flatten(groups: list[list[str]] | None) -> list[str]:
    return [item for group in groups or [] for item in group]


def script_arguments(groups: list[list[str]] | None) -> list[str]:
    """Return the script's command line from ``--arg`` values, each split shell-style.

    ``--arg "--ratio 0.2"`` gives ``["--ratio", "0.2"]`` (argparse reads a quoted value
    with a space as a value, not as an option); ``--arg=--flag`` gives ``["--flag"]``.
    """
    arguments: list[str] = []
    for value in _flatten(groups):
        try:
            arguments.extend(shlex.split(value))
        except ValueError as exc:
            raise UsageError(f"--arg {value!r}: {exc}.") from None
    return arguments


@magics_class
class ProcessingMagics(SessionMagics):
    """Processing jobs: a script over inputs under ``/opt/ml/processing``, outputs stored."""

    @magic_arguments()
    @argument("name", nargs="?", default=None, help="Job name; generated when left out.")
    @backend_option
    @argument("-i", "--instance-type", default=None, help="Instance type, e.g. ml.m5.large.")
    @argument("-n", "--instance-count", type=int, default=1, help="Hosts algo-1..algo-N.")
    @argument(
        "--input",
        action="append",
        nargs="+",
        metavar="SRC=DEST",
        help="An input (local path, file:// or s3://) copied to DEST under "
        "/opt/ml/processing (e.g. input/raw) before the script runs.",
    )
    @argument(
        "--shard",
        action="append",
        nargs="+",
        metavar="INPUT",
        help="Split this input's files across the hosts (ShardedByS3Key); by name or DEST.",
    )
    @argument(
        "--output",
        action="append",
        nargs="+",
        metavar="NAME=SRC[=>URI]",
        help="A folder under /opt/ml/processing stored after the script, at URI (default: "
        "the job's output location); job.outputs.NAME is where it lands.",
    )
    @argument(
        "--arg",
        action="append",
        nargs="+",
        metavar="ARGS",
        help='The script\'s arguments, split shell-style: --arg "--ratio 0.2" or --arg=--flag.',
    )
    @argument("--source-dir", default=None, help="Folder packaged with the code.")
    @argument("--entry-point", default=None, help="Script inside --source-dir to run.")
    @argument("--requirements", default=None, help="pip requirements installed first.")
    @argument("--image", default=None, help="Processing image URI (SageMaker).")
    @argument("--framework", default=None, help="Framework container, e.g. sklearn, pytorch.")
    @argument("--framework-version", default=None, help="Framework version, e.g. 1.2-1.")
    @argument("--py-version", default=None, help="Python of the framework image, e.g. py3.")
    @argument(
        "--env",
        action="append",
        nargs="+",
        metavar="KEY=VALUE",
        help="Environment variables of the script.",
    )
    @argument("--max-run", default=None, help="Stop the job after this long: 30m, 2h, 86400.")
    @argument("--tag", action="append", nargs="+", metavar="KEY=VALUE", help="Tags.")
    @argument(
        "--wait",
        action="store_true",
        help="Block and stream the logs as plain text (CI, nbval, terminals).",
    )
    @force_option
    @out_option
    @line_cell_magic
    @no_var_expand
    @magic_call()
    def sm_process(self, args: argparse.Namespace, cell: str | None = None) -> Job | None:
        """Run the cell (or an existing script) as a processing job; return its handle at once.

        The script reads its inputs from the folders named by ``--input`` and writes what
        should be kept into the folders named by ``--output``; ``--arg`` values are its
        command line (so paths can be passed, as SageMaker examples do).

        Examples
        --------
        ::

            In [1]: %%sm_process prep --input data/raw.csv=input/raw
               ...:     --output train=output/train --arg "--ratio 0.2"
               ...: import argparse, pandas as pd
               ...: ...

            In [2]: %%sm_train --input train={prep.outputs.train}
        """
        if cell is None and args.entry_point is None:
            raise UsageError(
                "%sm_process on one line runs an existing script: give --source-dir DIR "
                "--entry-point FILE, or use %%sm_process with the code in the cell."
            )
        core = self.core
        job = core.session.process(
            cell,
            name=args.name,
            backend=args.backend,
            inputs=_flatten(args.input),
            outputs=_flatten(args.output),
            arguments=script_arguments(args.arg),
            shard=_flatten(args.shard),
            source_dir=args.source_dir,
            entry_point=args.entry_point,
            instance_type=args.instance_type,
            instance_count=args.instance_count,
            requirements=args.requirements,
            image=args.image or (None if args.framework else core.image or None),
            framework=args.framework or (None if args.image else core.framework or None),
            framework_version=args.framework_version or core.framework_version or None,
            py_version=args.py_version or core.py_version or None,
            environment=parse_key_values(args.env, "--env", json_values=False),
            max_run=args.max_run,
            tags=parse_key_values(args.tag, "--tag", json_values=False),
            force=args.force,
        )
        bind_out(self.shell, args.out, job)  # before --wait: a failed wait keeps the handle
        for note in job.notes:
            print(note)
        if args.wait:
            core.wait_streaming(job)
        elif not widgets_available():
            follow_in_background(job, print)
        return job
