"""The serving magics: deploy, invoke, list, delete endpoints; batch transform.

``%sm_deploy``, ``%sm_invoke``, ``%sm_endpoints``, ``%sm_delete`` and ``%sm_batch`` live in a
second ``Magics`` class beside :class:`~sm_magics.magics.SageMakerMagics`, sharing its
configuration and session, so each file keeps one topic. Same rules: parse, one API call,
display; errors become one ``UsageError`` line; nothing blocks without ``--wait``.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from IPython.core.error import StdinNotImplementedError, UsageError
from IPython.core.magic import line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments

from sm_magics import pricing
from sm_magics.api import Job
from sm_magics.api.deploy import DEPLOY_OPTIONS
from sm_magics.api.specs import TRANSFORM_OPTIONS
from sm_magics.display.endpoints import EndpointTable
from sm_magics.endpoint import JSON, Endpoint, content_type_for_file
from sm_magics.errors import NotFound, SmMagicsError
from sm_magics.magic_parsing import (
    JsonKeyValues,
    KeyValues,
    backend_option,
    bind_out,
    expand_names,
    force_option,
    magic_call,
    options_of,
    out_option,
    user_namespace,
)
from sm_magics.magics import SageMakerMagics, SessionMagics

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

_SINGLE_REFERENCE = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\}$")


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@magics_class
class ServingMagics(SessionMagics):
    """Serve models trained with ``%%sm_train``: endpoints, invocations, batch transform."""

    def __init__(
        self, shell: InteractiveShell | None = None, *, core: SageMakerMagics, **kwargs: object
    ) -> None:
        super().__init__(shell, core=core, **kwargs)
        #: Endpoint handles ``%sm_invoke`` used, by name: a handle remembers what it read
        #: (is the endpoint asynchronous, serverless), so a loop of invocations reads the
        #: ledger once. Dropped when an invocation fails or the session changes.
        self._handles: dict[str, Endpoint] = {}

    @magic_arguments()
    @argument(
        "model",
        nargs="?",
        default=None,
        help="A training job's name or a model.tar.gz URI (optional when only "
        "changing --variant weights).",
    )
    @argument(
        "-e",
        "--endpoint",
        default=None,
        help="Endpoint name; default: the job's name. An existing one with --variant "
        "gets the model as a new variant.",
    )
    @backend_option
    @argument("-i", "--instance-type", default=None, help="Instance type, e.g. ml.m5.large.")
    @argument(
        "-n", "--instance-count", type=int, default=1, help="Instances (locally: worker processes)."
    )
    @argument(
        "--entry-point",
        default=None,
        help="Handlers script (model_fn, input_fn, predict_fn, output_fn); default: "
        "the training cell itself, then code/inference.py in model.tar.gz.",
    )
    @argument(
        "--framework",
        default=None,
        choices=["sklearn", "xgboost", "pytorch", "tensorflow", "huggingface"],
        help="Serving container (and its default handlers); default: the training job's, "
        "else guessed from model.tar.gz.",
    )
    @argument(
        "--serverless",
        dest="serverless_memory",
        type=int,
        default=None,
        metavar="MEMORY_MB",
        help="Serverless inference with this much memory (SageMaker).",
    )
    @argument("--max-concurrency", type=int, default=None, help="Serverless concurrency.")
    @argument(
        "--variant",
        dest="variants",
        action=JsonKeyValues,
        nargs="+",
        metavar="NAME=WEIGHT",
        help="A/B: add a variant to an existing endpoint, or set weights.",
    )
    @argument(
        "--ttl",
        default=None,
        help="Delete the endpoint by itself after this long (default: "
        "SageMakerMagics.default_ttl).",
    )
    @argument(
        "--autoscale",
        default=None,
        metavar="MIN:MAX",
        help="Scale each new variant between MIN and MAX instances on invocations per "
        "instance (waits until InService).",
    )
    @argument(
        "--env",
        dest="environment",
        action=KeyValues,
        nargs="+",
        metavar="KEY=VALUE",
        help="Environment variables of the serving processes.",
    )
    @argument("--tag", dest="tags", action=KeyValues, nargs="+", metavar="KEY=VALUE", help="Tags.")
    @argument(
        "--async-output",
        default=None,
        metavar="URI",
        help="Asynchronous inference: answers are written under this URI (s3:// on "
        "SageMaker, a folder locally); %%sm_invoke then returns a pending result.",
    )
    @argument("--async-failure", default=None, metavar="URI", help="Where failed requests go.")
    @argument(
        "--async-max-concurrency",
        type=int,
        default=None,
        metavar="N",
        help="Asynchronous requests an instance works on at once.",
    )
    @argument("--wait", action="store_true", help="Block until InService (or Failed).")
    @force_option
    @out_option
    @line_magic
    @no_var_expand
    @magic_call()
    def sm_deploy(self, args: argparse.Namespace) -> Endpoint:
        """Serve a model as an endpoint; return its handle at once (a live widget).

        Examples
        --------
        ::

            In [1]: %sm_deploy my-job -e iris --wait
            In [2]: %sm_deploy my-job-2 -e iris --variant b=0.2     # A/B: 1/6 of traffic
            In [3]: %sm_deploy -e iris --variant AllTraffic=0 b=1   # shift all to b
        """
        self._handles.clear()  # a new endpoint may take a name a handle remembers
        options = options_of(args, DEPLOY_OPTIONS)
        if args.framework:
            # Read by both backends: the local serving defaults and the sagemaker image.
            options["environment"] = {
                **(options.get("environment") or {}),
                "SM_MAGICS_FRAMEWORK": args.framework,
            }
        endpoint = self.core.session.deploy(args.model, **options)
        bind_out(self.shell, args.out, endpoint)  # before --wait: a failed wait keeps it
        for note in endpoint.notes:
            print(note)
        if args.wait:
            endpoint.wait()
            description = endpoint.describe()
            if args.variants and description.get("LastUpdateError"):
                raise UsageError(
                    f"Endpoint {endpoint.name} kept its previous variants: the update failed: "
                    f"{description['LastUpdateError']}"
                )
            print(
                f"Endpoint {endpoint.name}: {description['EndpointStatus']} at "
                f"{description.get('Url')}"
            )
        return endpoint

    @magic_arguments()
    @argument("endpoint", help="Endpoint name.")
    @argument("data", nargs="+", help="A JSON or CSV literal, {var} from the namespace, or @file.")
    @argument(
        "--content-type",
        default=None,
        help="Request type; default: from the data (JSON, CSV, or the file's extension).",
    )
    @argument("--accept", default=None, help="Response type, e.g. text/csv.")
    @argument("--variant", default=None, help="Send to this variant (TargetVariant).")
    @out_option
    @line_magic
    @no_var_expand
    @magic_call(expand=False, memo=True)
    def sm_invoke(self, args: argparse.Namespace) -> object:
        """Send one request to an endpoint; return the decoded answer.

        Examples
        --------
        ::

            In [1]: %sm_invoke iris [[5.1, 3.5, 1.4, 0.2]]
            In [2]: %sm_invoke iris {X_test} --accept text/csv
            In [3]: %sm_invoke iris @rows.csv
        """
        # DATA is expanded below (a lone {var} keeps its object); the rest as usual.
        namespace = user_namespace(self.shell)
        args.endpoint = expand_names(args.endpoint, namespace)
        if args.variant:
            args.variant = expand_names(args.variant, namespace)
        text = " ".join(args.data)
        content_type = args.content_type
        reference = _SINGLE_REFERENCE.match(text)
        data: object
        if reference is not None:
            data = self._resolve(reference.group(1))
        elif text.startswith("@"):
            path = Path(text[1:]).expanduser()
            if not path.is_file():
                raise UsageError(f"{path} is not a file.")
            data = path.read_bytes()
            content_type = content_type or content_type_for_file(path)
        elif (is_json := _is_json(text)) or _is_json(typed := self._data_as_typed(args.raw_line)):
            # A JSON literal goes as typed: the shell-style split removed the quotes of
            # its strings, and ``}}`` of nested objects is not a brace escape here.
            data = text if is_json else typed
            content_type = content_type or JSON  # known now: not parsed again to tell
        else:
            data = expand_names(text, namespace)
        handle = self._handles.get(args.endpoint)
        if handle is None or handle.session is not self.core.session:
            handle = self._handles[args.endpoint] = self.core.session.endpoint(args.endpoint)
        try:
            answer = handle.invoke(
                data, content_type=content_type, accept=args.accept, variant=args.variant
            )
        except SmMagicsError:
            self._handles.pop(args.endpoint, None)
            raise
        return answer

    def _data_as_typed(self, line: str) -> str:
        """Return DATA with its quotes kept (``{"a": 1}`` stays JSON), or ``""``."""
        lexer = shlex.shlex(line, posix=False)
        lexer.whitespace_split = True
        lexer.commenters = ""
        try:
            return " ".join(self.sm_invoke.parser.parse_args(list(lexer)).data)
        except (ValueError, UsageError):
            return ""

    def _resolve(self, dotted: str) -> object:
        root, *attributes = dotted.split(".")
        namespace = user_namespace(self.shell)
        if root not in namespace:
            raise UsageError(f"{{{dotted}}}: no variable {root!r} in the notebook.")
        value = namespace[root]
        for attribute in attributes:
            try:
                value = getattr(value, attribute)
            except AttributeError:
                raise UsageError(f"{{{dotted}}}: no attribute {attribute!r}.") from None
        return value

    @magic_arguments()
    @backend_option
    @line_magic
    @no_var_expand
    @magic_call()
    def sm_endpoints(self, args: argparse.Namespace) -> EndpointTable:
        """List live endpoints: status, variants and weights, URL, cost per hour, TTL."""
        return self.core.session.endpoints(backend=args.backend)

    @magic_arguments()
    @argument("name", help="A job's or an endpoint's name.")
    @line_magic
    @no_var_expand
    @magic_call()
    def sm_watch(self, args: argparse.Namespace) -> Job | Endpoint:
        """Show a live widget of any job or endpoint (re-attach one after a kernel restart).

        A widget lives as long as the kernel that made it: after a restart, or in a
        reopened notebook, its output is a static snapshot. ``%sm_watch NAME`` shows a live
        one again, wherever the job or endpoint was started (the side panel inserts this
        line for you). A live endpoint wins over a job of the same name.
        """
        session = self.core.session
        record = session.ledger.get_endpoint(args.name)
        if record is not None and record.is_live:
            return session.endpoint(args.name)
        try:
            return session.job(args.name)
        except NotFound:
            raise NotFound(
                f"No job or live endpoint named {args.name!r}; %sm_jobs and %sm_endpoints "
                "list them."
            ) from None

    @magic_arguments()
    @argument("endpoint", help="Endpoint name.")
    @argument("--yes", action="store_true", help="Do not ask for confirmation.")
    @line_magic
    @no_var_expand
    @magic_call()
    def sm_delete(self, args: argparse.Namespace) -> None:
        """Delete an endpoint with everything it runs (asks first unless ``--yes``).

        An endpoint that is already gone (deleted from the side panel, or by its ``--ttl``)
        is reported as such, not as an error, so that Run All goes on.
        """
        try:
            self._delete(args)
        except NotFound:
            record = self.core.session.ledger.get_endpoint(args.endpoint)
            if record is None:
                raise
            when = record.deleted_at or record.updated_at
            stamp = (
                datetime.fromtimestamp(when, tz=timezone.utc).strftime(" at %H:%M:%S UTC")
                if when and record.status == "Deleted"
                else ""
            )
            print(f"Endpoint {args.endpoint} is already deleted{stamp}: nothing to do.")

    def _delete(self, args: argparse.Namespace) -> None:
        endpoint = self.core.session.endpoint(args.endpoint)
        if not args.yes:
            row = endpoint.row()
            question = (
                f"Delete endpoint {endpoint.name} ({row.status}, "
                f"{pricing.format_usd(row.cost_per_hour)}/hour)? [y/N] "
            )
            try:
                answer = input(question)
            except (StdinNotImplementedError, EOFError):
                raise UsageError(
                    f"Cannot ask for confirmation here; %sm_delete {endpoint.name} --yes "
                    "deletes without asking."
                ) from None
            if answer.strip().lower() not in ("y", "yes"):
                print("Nothing deleted.")
                return
        self._handles.pop(endpoint.name, None)
        endpoint.delete()
        print(f"Endpoint {endpoint.name} deleted: nothing of it runs or listens any more.")

    @magic_arguments()
    @argument("model", help="A training job's name or a model.tar.gz URI.")
    @argument("--input", required=True, help="A file or folder (file://... locally).")
    @argument("--output", required=True, help="Folder for <input file>.out results.")
    @argument("--name", default=None, help="Job name; generated when left out.")
    @backend_option
    @argument("-i", "--instance-type", default=None, help="Instance type.")
    @argument("-n", "--instance-count", type=int, default=1, help="Instances.")
    @argument("--content-type", default="text/csv", help="Type of the input records.")
    @argument("--accept", default=None, help="Type of the results.")
    @argument(
        "--split-type",
        choices=("Line", "None"),
        default="Line",
        help="Line: a record per line; None: a request per file.",
    )
    @argument("--entry-point", default=None, help="Handlers script (as for %%sm_deploy).")
    @argument("--wait", action="store_true", help="Block until the job ends.")
    @argument("--tag", dest="tags", action=KeyValues, nargs="+", metavar="KEY=VALUE", help="Tags.")
    @force_option
    @out_option
    @line_magic
    @no_var_expand
    @magic_call()
    def sm_batch(self, args: argparse.Namespace) -> Job:
        """Run every file of ``--input`` through a model (batch transform); return the job."""
        job = self.core.session.batch(
            args.model,
            backend=args.backend,
            force=args.force,
            **options_of(args, TRANSFORM_OPTIONS),
        )
        bind_out(self.shell, args.out, job)  # before --wait: a failed wait keeps the handle
        if args.wait:
            self.core.wait_streaming(job)
        return job
