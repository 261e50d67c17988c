"""The local backend's model registry: versions in the ledger, artifacts by content hash.

Registering copies ``model.tar.gz`` to ``SM_MAGICS_HOME/registry/<sha256>/model.tar.gz``
(once per content: a model registered twice is stored once), so a registered version
stays deployable when its training job's folder is cleaned up, and records the version
in the ledger's ``model_packages`` table, numbered per group. ARNs follow SageMaker's
scheme with the local account (``arn:aws:sagemaker:<region>:000000000000:model-package/
<group>/<version>``).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from sm_magics import config, model_registry
from sm_magics.errors import InvalidRequest, NotFound
from sm_magics.model_registry import ApprovalChange, PackageRecord

if TYPE_CHECKING:
    from sm_magics.backends.base import Backend
    from sm_magics.backends.packages import PackageSpec
    from sm_magics.ledger import Ledger

LOCAL_ACCOUNT = "000000000000"


def registry_root() -> Path:
    """Return the folder of registered model artifacts (one per content hash)."""
    return config.home_dir() / "registry"


def _store(backend: Backend, uri: str) -> Path:
    """Copy the artifact at ``uri`` into the registry under its content hash; return it."""
    root = registry_root()
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".incoming-", suffix=".tar.gz")
    os.close(fd)
    try:
        backend.fetch(uri, Path(tmp))
        digest = hashlib.sha256()
        with open(tmp, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        folder = root / digest.hexdigest()
        target = folder / "model.tar.gz"
        if not target.exists():
            folder.mkdir(exist_ok=True)
            os.replace(tmp, target)
        return target
    finally:
        Path(tmp).unlink(missing_ok=True)


class LocalPackages:
    """Model registry methods of the local backend (composed into it)."""

    def __init__(self, ledger: Ledger, region: str | None, backend: Backend) -> None:
        self.ledger = ledger
        self.region = region
        self.backend = backend

    def register_model(self, spec: PackageSpec, *, by: str) -> PackageRecord:
        """Register a new version of ``spec.group``; see :meth:`Backend.register_model`."""
        try:
            stored = _store(self.backend, spec.model_data)
        except NotFound:
            raise InvalidRequest(f"No model at {spec.model_data} to register.") from None
        now = time.time()
        record = PackageRecord(
            arn="",
            group_name=spec.group,
            version=0,
            backend="local",
            region=self.region,
            status=spec.approval,
            model_data=stored.as_uri(),
            created_at=now,
            source_job=spec.source_job,
            description=spec.description,
            metrics=dict(spec.metrics),
            spec={
                "content_types": list(spec.content_types),
                "response_types": list(spec.response_types),
                "instance_types": list(spec.instance_types),
                "source_hash": spec.source_hash,
                "inputs": dict(spec.inputs),
                "original_model_data": spec.model_data,
                "notebook": spec.notebook,
            },
            history=[{"status": spec.approval, "by": by, "at": now, "note": "registered"}],
        )
        region = self.region
        return model_registry.insert(
            self.ledger,
            record,
            lambda version: (
                f"arn:aws:sagemaker:{region}:{LOCAL_ACCOUNT}:model-package/{spec.group}/{version}"
            ),
        )

    def set_model_approval(
        self, arn: str, status: str, *, by: str, note: str | None = None
    ) -> PackageRecord:
        """Change a version's approval status, recording who and when."""
        record = model_registry.get(self.ledger, arn)
        if record is None:
            raise NotFound(f"No local model package {arn}.")
        change: ApprovalChange = {"status": status, "by": by, "at": time.time(), "note": note}
        history = [*record.history, change]
        model_registry.update(self.ledger, arn, status=status, history=history)
        updated = model_registry.get(self.ledger, arn)
        assert updated is not None
        return updated

    def list_model_packages(self, group: str | None = None) -> list[PackageRecord]:
        """Return the local registry's versions (of one group, or all)."""
        return [p for p in model_registry.list_packages(self.ledger, group) if p.backend == "local"]
