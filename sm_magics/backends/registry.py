"""Backend registry: a name maps to a class, imported only when first used.

Modelled on ``fsspec.registry``: the known backends are strings (``"module:Class"``) with an
install hint, so ``%load_ext sm_magics`` imports neither boto3 nor the SageMaker backend
until a magic asks for ``-b sagemaker``. Third parties can add a backend with
:func:`register_backend` or the ``sm_magics.backends`` entry-point group.
"""

from __future__ import annotations

import importlib
import types
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from sm_magics.errors import BackendUnavailable, InvalidRequest

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sm_magics.backends.base import Backend
    from sm_magics.ledger import Ledger

#: name -> {"class": "module:Class", "err": install hint shown when the import fails}
known_backends: dict[str, dict[str, str]] = {
    "local": {
        "class": "sm_magics.backends.local.engine:LocalBackend",
        "err": "The local backend ships with sm-magics; reinstall the package.",
    },
    "sagemaker": {
        "class": "sm_magics.backends.sagemaker:SageMakerBackend",
        "err": "The sagemaker backend needs boto3: pip install 'sm-magics[aws]'",
    },
}

_registry: dict[str, type[Backend]] = {}
#: Backends already imported, read-only.
registry = types.MappingProxyType(_registry)
_ENTRY_POINT_GROUP = "sm_magics.backends"


def register_backend(name: str, cls: type[Backend] | str, *, clobber: bool = False) -> None:
    """Make a backend available under ``name``.

    Parameters
    ----------
    name
        What users pass to ``-b``.
    cls
        The class, or a ``"module:Class"`` string imported on first use.
    clobber
        Replace an existing backend of that name instead of raising ``ValueError``.
    """
    if not clobber and (name in _registry or name in known_backends):
        raise ValueError(f"a backend named {name!r} is already registered")
    if isinstance(cls, str):
        known_backends[name] = {"class": cls, "err": f"Could not import {cls}"}
        _registry.pop(name, None)
    else:
        _registry[name] = cls


def available_backends() -> list[str]:
    """Return every backend name that can be asked for (imported or not)."""
    names = set(known_backends) | set(_registry)
    names.update(ep.name for ep in entry_points(group=_ENTRY_POINT_GROUP))
    return sorted(names)


def get_backend_class(name: str) -> type[Backend]:
    """Import (once) and return the backend class registered as ``name``.

    Raises
    ------
    InvalidRequest
        No backend has that name.
    BackendUnavailable
        The backend's module could not be imported (a missing optional dependency); the
        message says what to install.
    """
    if name in _registry:
        return _registry[name]
    spec = known_backends.get(name)
    if spec is None:
        for ep in entry_points(group=_ENTRY_POINT_GROUP, name=name):
            spec = {"class": ep.value, "err": f"Could not load backend {name!r} ({ep.value})"}
        if spec is None:
            raise InvalidRequest(
                f"Unknown backend {name!r}; choose one of: {', '.join(available_backends())}."
            )
    module_name, _, class_name = spec["class"].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendUnavailable(f"{spec['err']} ({exc})") from exc
    cls: type[Backend] | None = getattr(module, class_name, None)
    if cls is None:
        raise BackendUnavailable(f"{spec['err']} ({module_name} has no {class_name})")
    _registry[name] = cls
    return cls


def create_backend(
    name: str, *, region: str | None, ledger: Ledger, settings: Mapping[str, object]
) -> Backend:
    """Build the backend ``name`` from a session's settings, checked by name.

    ``settings`` are ``%config`` values (role, bucket, subnets, ...), turned into the
    backend's :class:`~sm_magics.backends.options.BackendOptions`; an unknown one is an
    ``InvalidRequest``. ``aws``, a ready ``AwsSession`` (tests, benchmarks), is handed to
    the sagemaker backend as it is.
    """
    from sm_magics.backends.options import BackendOptions

    values = dict(settings)
    ready: dict[str, object] = {"aws": values.pop("aws")} if "aws" in values else {}
    cls = get_backend_class(name)
    options = BackendOptions.from_mapping(values)
    return cls(region=region, ledger=ledger, options=options, **ready)
