"""Local endpoints, the kernel's side: validate, reserve, start the router, talk to it.

The router process (:mod:`.router`) owns an endpoint's state once started; this module
writes its desired config, signals it (SIGHUP to update, SIGTERM to delete), reads its
state and forwards invocations to it over loopback HTTP with the standard library only,
so the kernel never imports tornado, numpy or boto3 for serving.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sm_magics import config, limits, storage
from sm_magics.backends import rows, statuses
from sm_magics.backends.local import client, logstore, processes, utc
from sm_magics.backends.local.creation import CREATION_GRACE_SECONDS, creating
from sm_magics.backends.local.endpoint_dir import EndpointDir
from sm_magics.backends.local.jobdir import JobDir
from sm_magics.backends.local.uris import model_path
from sm_magics.backends.results import AsyncInvokeResult, InvokeResult, LogBatch, LogCursor
from sm_magics.backends.specs import EndpointSpec, VariantSpec
from sm_magics.errors import InvalidRequest, ModelError, NotFound
from sm_magics.ledger import Ledger

if TYPE_CHECKING:
    from sm_magics.backends.descriptions import EndpointDescription, ServedVariantDescription

_LOCAL_ACCOUNT = "000000000000"
#: How long ``delete`` waits for the router to drain and exit before killing its group.
DELETE_GRACE_SECONDS = 30.0


class LocalEndpoints:
    """The endpoints of a :class:`~sm_magics.backends.local.engine.LocalBackend`, which owns one."""

    def __init__(self, ledger: Ledger, region: str | None) -> None:
        self.ledger = ledger
        self.region = region

    # -- create / update --------------------------------------------------------------------

    def variant_config(self, variant: VariantSpec) -> dict[str, Any]:
        """Resolve one variant: the model file, the handler scripts to try, the Python."""
        if variant.model_data is None:
            raise InvalidRequest(f"Variant {variant.name}: no model to serve.")
        path = model_path(variant.model_data)
        candidates: list[str] = []
        python = sys.executable
        if variant.entry_point is not None:
            entry = variant.entry_point.expanduser().resolve()
            if not entry.is_file():
                raise InvalidRequest(f"--entry-point {variant.entry_point} does not exist.")
            candidates.append(str(entry))
        if variant.job is not None:
            job = JobDir.for_job(variant.job)
            if job.exists():
                spec = job.read_spec()
                candidates.append(str(job.code / spec["entry_point"]))
                python = str(job.read_state().get("python") or spec.get("python") or python)
        if variant.instance_count < 1:
            raise InvalidRequest("--instance-count must be at least 1.")
        if variant.weight < 0:
            raise InvalidRequest(f"Variant {variant.name}: weights must be 0 or more.")
        data: dict[str, Any] = dict(variant.to_json())
        data.update(model_path=str(path), script_candidates=candidates, python=python)
        return data

    def create_endpoint(self, spec: EndpointSpec) -> None:
        """See :meth:`Backend.create_endpoint`."""
        variants = [self.variant_config(v) for v in spec.variants]
        names = [v["name"] for v in variants]
        if len(set(names)) != len(names):
            raise InvalidRequest(f"Variant names must be unique: {names}.")
        now = time.time()
        record = rows.endpoint_record(spec, backend="local", region=self.region, now=now)
        folder = EndpointDir.for_endpoint(spec.name)
        with creating(
            self.ledger,
            record,
            folder.root,
            clear_stale=lambda: self._archive_self_deleted(folder),
        ) as made:
            folder.logs.mkdir(parents=True, mode=storage.DIR_MODE)
            folder.write_config(
                {
                    "name": spec.name,
                    "variants": variants,
                    "ttl_at": record.ttl_at,
                    "ttl": spec.ttl,  # as given, for the reason the router records
                    "region": self.region,
                }
            )
            folder.write_state(
                {"status": statuses.CREATING, "created": now, "ttl_at": record.ttl_at}
            )
            made.process = processes.spawn_detached(
                [sys.executable, "-m", "sm_magics.backends.local.router", str(folder.root)],
                folder.router_log,
            )
            (folder.root / "router.pid").write_text(
                f"{made.process.pid} {processes.start_ticks(made.process.pid) or ''}"
            )
            storage.secure_tree(folder.root)

    def _archive_self_deleted(self, folder: EndpointDir) -> bool:
        """Archive the folder of an endpoint that deleted itself (its TTL passed).

        Only ``delete_endpoint`` archives a folder; a router whose TTL expired records
        ``Deleted`` and exits, leaving the folder in the way of a new endpoint of that name.
        Return whether the folder was such a one and is gone now.
        """
        try:
            state = folder.read_state()
        except (OSError, ValueError):
            return False
        if state.get("status") != statuses.DELETED:
            return False
        pid = self._router_pid(folder)
        if pid is not None:  # on its way out: it recorded Deleted just before exiting
            processes.terminate_groups([pid], grace=DELETE_GRACE_SECONDS)
        folder.archive()
        return True

    def set_autoscaling(self, name: str, variant: str, min_capacity: int, max_capacity: int) -> str:
        """Record ``--autoscale``; locally the variant keeps its fixed worker count."""
        self._endpoint_folder(name)  # NotFound for an unknown endpoint
        return (
            f"local backend: --autoscale {min_capacity}:{max_capacity} recorded, not used here "
            f"(variant {variant} keeps its worker processes; it scales on SageMaker)."
        )

    def update_endpoint(self, name: str, variants: list[VariantSpec]) -> None:
        """See :meth:`Backend.update_endpoint`."""
        folder = self._endpoint_folder(name)
        state = self._checked_endpoint_state(folder)
        if state["status"] not in (statuses.IN_SERVICE, statuses.UPDATING):
            raise InvalidRequest(
                f"Endpoint {name} is {state['status']}; it can be updated once InService."
            )
        resolved = [self.variant_config(v) for v in variants]
        current = {v["name"]: v for v in folder.read_config()["variants"]}
        for variant in resolved:
            old = current.get(variant["name"])
            if old is not None and old.get("model_path") == variant["model_path"]:
                variant["script_candidates"] = old["script_candidates"]
        data = folder.read_config()
        data["variants"] = resolved
        # The router records the version it applied; until then describe says Updating.
        data["version"] = int(data.get("version", 0)) + 1
        pid = self._router_pid(folder)
        if pid is None:
            raise InvalidRequest(f"Endpoint {name} has no running process; delete it.")
        folder.write_config(data)
        rows.record_update(self.ledger, name, variants, status=None)  # the router applies it
        os.kill(pid, signal.SIGHUP)

    # -- read -------------------------------------------------------------------------------

    def _endpoint_folder(self, name: str) -> EndpointDir:
        folder = EndpointDir.for_endpoint(name)
        if not folder.exists():
            if not folder.root.exists():  # removed out of band, or being created
                rows.mark_endpoint_deleted(
                    self.ledger,
                    name,
                    backend="local",
                    region=self.region,
                    reason=f"Its folder {folder.root} was removed.",
                    creation_grace=CREATION_GRACE_SECONDS,
                )
            raise NotFound(f"No local endpoint named {name!r}; %sm_endpoints lists them.")
        state = folder.read_state()
        if state.get("status") == statuses.DELETED:  # it deleted itself (--ttl): gone, as on AWS
            self._sync_endpoint_ledger(name, state)
            raise NotFound(
                f"Endpoint {name!r} was deleted ({state.get('deleted_reason', 'deleted')})."
            )
        return folder

    def _router_pid(self, folder: EndpointDir) -> int | None:
        try:
            pid_text, _, ticks = (folder.root / "router.pid").read_text().partition(" ")
        except FileNotFoundError:
            return None
        pid = int(pid_text)
        return pid if processes.is_alive(pid, ticks.strip() or None) else None

    def _checked_endpoint_state(self, folder: EndpointDir) -> dict[str, Any]:
        """Return the state, marking the endpoint Failed if its router died."""
        state = folder.read_state()
        if state["status"] not in statuses.LIVE_ENDPOINT_STATUSES:
            return state
        if self._router_pid(folder) is not None:
            return state
        if not (folder.root / "router.pid").exists():
            return state  # being created this very moment
        state = folder.read_state()
        if state["status"] not in statuses.LIVE_ENDPOINT_STATUSES:
            return state
        reason = f"the endpoint process exited unexpectedly; see {folder.router_log}"
        state.update(status="Failed", failure_reason=f"InternalServerError: {reason}")
        folder.write_state(state)
        self.ledger.update_endpoint(
            folder.name, status="Failed", failure_reason=state["failure_reason"]
        )
        return state

    def variant_environments(self, name: str) -> dict[str, dict[str, str]]:
        """See :meth:`Backend.variant_environments`: the endpoint folder's config (0600)."""
        config = self._endpoint_folder(name).read_config()
        return {
            str(v["name"]): {str(k): str(x) for k, x in (v.get("environment") or {}).items()}
            for v in config["variants"]
        }

    def describe_endpoint(self, name: str) -> EndpointDescription:
        """See :meth:`Backend.describe_endpoint`."""
        folder = self._endpoint_folder(name)
        state = self._checked_endpoint_state(folder)
        config = folder.read_config()
        desired = {v["name"]: v for v in config["variants"]}
        status = state["status"]
        if status == statuses.IN_SERVICE and state.get("config_version", 0) < config.get(
            "version", 0
        ):
            status = statuses.UPDATING  # an update was asked for and not applied yet
        live = {v["VariantName"]: v for v in state.get("variants", [])}
        variants: list[ServedVariantDescription] = []
        for variant_name in dict.fromkeys([*live, *desired]):
            current = live.get(variant_name, {})
            wanted = desired.get(variant_name, {})
            variants.append(
                {
                    "VariantName": variant_name,
                    "CurrentWeight": current.get("CurrentWeight", 0.0),
                    "DesiredWeight": wanted.get("weight", 0.0),
                    "CurrentInstanceCount": current.get("CurrentInstanceCount", 0),
                    "DesiredInstanceCount": wanted.get("instance_count", 0),
                    "InstanceType": wanted.get("instance_type") or current.get("InstanceType"),
                    "ModelDataUrl": Path(wanted["model_path"]).as_uri() if wanted else None,
                    "Invocations": current.get("Invocations", 0),
                    "Errors": current.get("Errors", 0),
                    "LatencyP50Ms": current.get("LatencyP50Ms"),
                    "LatencyP99Ms": current.get("LatencyP99Ms"),
                    "ServingDefaults": current.get("ServingDefaults"),
                    "ServingDefaultsReason": current.get("ServingDefaultsReason"),
                }
            )
        description: EndpointDescription = {
            "EndpointName": name,
            "EndpointArn": f"arn:aws:sagemaker:{self.region}:{_LOCAL_ACCOUNT}:endpoint/{name}",
            "EndpointConfigName": name,
            "EndpointStatus": status,
            "ProductionVariants": variants,
            "CreationTime": utc.at_or_none(state.get("created")),
            "LastModifiedTime": utc.at_or_none(state.get("updated") or state.get("created")),
            "Url": state.get("url"),
            "TtlAt": utc.at_or_none(state.get("ttl_at")),
        }
        if state.get("failure_reason"):
            description = {**description, "FailureReason": state["failure_reason"]}
        if state.get("last_update_error"):
            description = {**description, "LastUpdateError": state["last_update_error"]}
        self._sync_endpoint_ledger(name, state)
        return description

    def _sync_endpoint_ledger(self, name: str, state: dict[str, Any]) -> None:
        record = self.ledger.get_endpoint(name)
        if record is None or record.status == state["status"]:
            return
        if state["status"] == statuses.DELETED:  # it deleted itself at its TTL
            rows.mark_endpoint_deleted(
                self.ledger,
                name,
                backend="local",
                region=self.region,
                reason=state.get("deleted_reason") or state.get("failure_reason"),
                when=state.get("deleted"),
            )
            return
        self.ledger.update_endpoint(
            name,
            status=state["status"],
            url=state.get("url"),
            failure_reason=state.get("failure_reason"),
        )

    def read_endpoint_logs(self, name: str, cursor: LogCursor | None = None) -> LogBatch:
        """See :meth:`Backend.read_endpoint_logs`."""
        folder = EndpointDir.for_endpoint(name)
        if folder.exists():
            return logstore.read_new(folder.logs, cursor)
        archived = sorted((folder.root.parent / ".deleted").glob(f"{name}-*"))
        if not archived:
            raise NotFound(f"No local endpoint named {name!r}.")
        return logstore.read_new(archived[-1] / "logs", cursor)

    # -- delete / invoke --------------------------------------------------------------------

    def delete_endpoint(self, name: str) -> None:
        """See :meth:`Backend.delete_endpoint`: SIGTERM, drain, stop, then archive."""
        folder = self._endpoint_folder(name)
        pid = self._router_pid(folder)
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + DELETE_GRACE_SECONDS
            while processes.is_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
                processes.reap_children()
            # The router leads its group: this reaches any worker it left behind.
            processes.terminate_groups([pid], grace=1.0)
        now = time.time()
        state = folder.read_state()
        state.update(status=statuses.DELETED, deleted=state.get("deleted") or now)
        folder.write_state(state)
        folder.archive()
        self.ledger.update_endpoint(name, status=statuses.DELETED, deleted_at=state["deleted"])

    def invoke_endpoint_async(
        self,
        name: str,
        body: bytes,
        *,
        content_type: str,
        accept: str | None = None,
    ) -> AsyncInvokeResult:
        """See :meth:`Backend.invoke_endpoint_async`: emulated, the answer written at once.

        The request goes to the endpoint as a real-time one; its answer is written to
        ``<--async-output>/<inference id>.out`` (a ``ModelError`` to
        ``<--async-failure or --async-output>/<inference id>-error.out``), the file
        SageMaker would write, before this returns. So a notebook that waits for the
        output location and reads it runs unchanged on both backends; only the queueing
        (and SageMaker's scale-to-zero) is not emulated.
        """
        import uuid

        from sm_magics.backends.local.uris import local_path

        record = self.ledger.get_endpoint(name)
        config = (record.spec or {}).get("async") if record is not None else None
        if record is None or not record.is_live:
            raise NotFound(f"No local endpoint named {name!r}.")
        if not config:
            raise InvalidRequest(
                f"Endpoint {name} is a real-time endpoint; deploy it with --async-output URI "
                "to invoke it asynchronously."
            )
        # The emulation sends the payload inline (it has no S3 input location): SageMaker's
        # limit of an inline asynchronous payload applies.
        limits.check_payload(len(body), asynchronous=True)
        inference_id = str(uuid.uuid4())
        output = local_path(str(config["output_uri"]), "--async-output")
        failure_uri = str(config.get("failure_uri") or config["output_uri"])
        failure = local_path(failure_uri, "--async-failure")
        result_path = output / f"{inference_id}.out"
        error_path = failure / f"{inference_id}-error.out"
        try:
            result = self.invoke_endpoint(name, body, content_type=content_type, accept=accept)
        except ModelError as exc:
            _write_atomic(error_path, str(exc).encode())
        else:
            _write_atomic(result_path, result.body)
        return AsyncInvokeResult(
            inference_id=inference_id,
            output_location=result_path.as_uri(),
            failure_location=error_path.as_uri(),
        )

    def invoke_endpoint(
        self,
        name: str,
        body: bytes,
        *,
        content_type: str,
        accept: str | None = None,
        target_variant: str | None = None,
    ) -> InvokeResult:
        """See :meth:`Backend.invoke_endpoint`: one POST to the Runtime route.

        On a kept-alive connection, to a URL read once (see :mod:`.client`).
        """
        headers = {"Content-Type": content_type}
        if accept:
            headers["Accept"] = accept
        if target_variant:
            headers["X-Amzn-SageMaker-Target-Variant"] = target_variant

        def read_url() -> str:
            state = self._checked_endpoint_state(self._endpoint_folder(name))
            url = state.get("url")
            if not url or state["status"] not in (statuses.IN_SERVICE, statuses.UPDATING):
                raise InvalidRequest(
                    f"Endpoint {name} is {state['status']}, not InService"
                    + (f": {state['failure_reason']}" if state.get("failure_reason") else ".")
                )
            return str(url)

        return client.invoke(config.home_key(), name, body, headers, read_url)


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so a reader never sees half of it (as S3 never shows)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)
