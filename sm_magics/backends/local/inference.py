"""The SageMaker inference contract: handler functions and their defaults.

A serving container calls, per request::

    model = model_fn(model_dir)                      # once, at start-up
    data = input_fn(body, content_type)              # decode the request
    prediction = predict_fn(data, model)             # run the model
    body = output_fn(prediction, accept)             # encode the response

or ``transform_fn(model, body, content_type, accept)`` instead of the last three (a module
defining both is an error, as in the toolkit). Handlers come from the user's module; the
ones it leaves out take the defaults of the SageMaker inference toolkit: ``application/json``,
``text/csv`` and ``application/x-npy`` decoded to / encoded from numpy arrays, and
``model.predict``. ``model_fn`` has no default, as in the framework containers.

The module is imported by the serving worker and by batch transform, never by the kernel.
"""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sm_magics.backends.local.serving_defaults import ServingDefaults

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
DEFAULT_ACCEPT = JSON
SUPPORTED = (JSON, CSV, NPY)


class InferenceError(Exception):
    """A request that failed; ``status`` is the HTTP status the server answers with."""

    status = 500
    code = "ModelError"


class UnsupportedContentType(InferenceError):
    """The default ``input_fn`` cannot decode this content type."""

    status = 415
    code = "UnsupportedMediaType"


class NotAcceptable(InferenceError):
    """The default ``output_fn`` cannot encode into any type the client accepts."""

    status = 406
    code = "NotAcceptable"


class BadRequest(InferenceError):
    """The body could not be decoded as its declared content type."""

    status = 400
    code = "ValidationError"


class HandlerError(InferenceError):
    """A user handler raised: SageMaker reports this as ``ModelError``."""

    status = 500
    code = "ModelError"


class LoadError(Exception):
    """The handlers or the model could not be loaded: the endpoint cannot start."""


def base_type(content_type: str | None) -> str:
    """Return ``text/csv`` for ``text/csv; charset=utf-8``; JSON when nothing is given."""
    if not content_type:
        return JSON
    return content_type.split(";", 1)[0].strip().lower()


def default_input_fn(body: bytes, content_type: str) -> object:
    """Decode a request body to a numpy array, as the toolkit's ``decoder.decode``."""
    import numpy as np

    kind = base_type(content_type)
    try:
        if kind == JSON:
            return np.array(json.loads(body))
        if kind == CSV:
            return np.genfromtxt(io.StringIO(body.decode()), delimiter=",", ndmin=2)
        if kind == NPY:
            return np.load(io.BytesIO(body), allow_pickle=False)
    except (ValueError, UnicodeDecodeError, OSError, EOFError) as exc:  # EOFError: empty .npy
        raise BadRequest(f"Could not decode the body as {kind}: {exc}") from None
    raise UnsupportedContentType(
        f"Content type {content_type!r} is not supported by the default input_fn; "
        f"use one of {', '.join(SUPPORTED)} or define input_fn."
    )


def default_predict_fn(data: object, model: object) -> object:
    """Call ``model.predict(data)``, the toolkit's default."""
    predict: Callable[[object], object] = getattr(model, "predict")  # noqa: B009 - typed
    return predict(data)


def choose_accept(accept: str | None) -> str:
    """Return the first type of an ``Accept`` header the default encoders can produce.

    ``*/*``, an empty header or ``application/*`` mean JSON; ``q`` weights are honoured.
    """
    if not accept:
        return DEFAULT_ACCEPT
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept.split(",")):
        pieces = [p.strip() for p in part.split(";")]
        quality = 1.0
        for param in pieces[1:]:
            if param.startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        ranked.append((-quality, position, pieces[0].lower()))
    for negative_quality, _position, kind in sorted(ranked):
        if negative_quality >= 0:
            continue
        if kind in SUPPORTED:
            return kind
        if kind in ("*/*", "application/*"):
            return DEFAULT_ACCEPT
        if kind == "text/*":
            return CSV
    raise NotAcceptable(
        f"Cannot produce any of {accept!r} with the default output_fn; "
        f"ask for one of {', '.join(SUPPORTED)} or define output_fn."
    )


def default_output_fn(prediction: Any, accept: str) -> tuple[bytes, str]:
    """Encode a prediction as the toolkit's ``encoder.encode``; return body and type."""
    import numpy as np

    kind = choose_accept(accept)
    if kind == JSON:

        def default(value: object) -> object:
            if hasattr(value, "tolist"):
                return value.tolist()
            raise TypeError(f"{type(value).__name__} is not JSON serialisable")

        return json.dumps(prediction, default=default).encode(), JSON
    if kind == CSV:
        stream = io.StringIO()
        np.savetxt(stream, np.atleast_1d(prediction), delimiter=",", fmt="%s")
        return stream.getvalue().encode(), CSV
    buffer = io.BytesIO()
    np.save(buffer, prediction)
    return buffer.getvalue(), NPY


def _as_response(result: object, accept: str) -> tuple[bytes, str]:
    """Normalise what a user ``output_fn``/``transform_fn`` returned to (bytes, type).

    The toolkit accepts a body, or a ``(body, content_type)`` pair.
    """
    content_type = base_type(accept) if accept and "*" not in accept else DEFAULT_ACCEPT
    if isinstance(result, tuple) and len(result) == 2:
        result, content_type = result
    if isinstance(result, str):
        result = result.encode()
    if not isinstance(result, (bytes, bytearray)):
        raise HandlerError(
            f"output_fn/transform_fn returned {type(result).__name__}; return bytes or str "
            "(optionally with a content type)"
        )
    return bytes(result), str(content_type)


@dataclass
class Handlers:
    """The resolved handler functions of one model, and where they came from."""

    #: The model, the decoded input and the prediction are the script's own objects: the
    #: worker only hands each to the next handler.
    model_fn: Callable[[str], object]
    input_fn: Callable[[bytes, str], object]
    predict_fn: Callable[[object, object], object]
    output_fn: Callable[[object, str], object] | None
    transform_fn: Callable[[object, bytes, str, str], object] | None
    source: str

    def invoke(
        self, model: object, body: bytes, content_type: str, accept: str
    ) -> tuple[bytes, str]:
        """Run one request through the handlers; return the response body and type.

        Raises
        ------
        InferenceError
            With the status the server should answer: 4xx for a request the defaults
            cannot read or answer, 500 (``ModelError``) when a user handler raised.
        """
        try:
            if self.transform_fn is not None:
                return _as_response(self.transform_fn(model, body, content_type, accept), accept)
            data = self.input_fn(body, content_type)
            prediction = self.predict_fn(data, model)
            if self.output_fn is None:
                return default_output_fn(prediction, accept)
            return _as_response(self.output_fn(prediction, accept), accept)
        except InferenceError:
            raise
        except Exception as exc:  # any error of user code is a ModelError
            raise HandlerError(f"{type(exc).__name__}: {exc}") from exc


def import_module_from(path: Path, name: str = "sm_magics_user_inference") -> ModuleType:
    """Import a script as a module without running its ``__main__`` block.

    The script's folder goes first on ``sys.path`` so its sibling modules import, as they
    would in ``/opt/ml/code``.
    """
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise LoadError(f"Cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the endpoint's failure reason
        raise LoadError(f"Importing {path.name} failed: {type(exc).__name__}: {exc}") from exc
    return module


def find_entry_point(candidates: list[Path], *, required: bool = True) -> Path | None:
    """Return the first script that defines ``model_fn`` (or ``transform_fn``).

    The order is the caller's: ``--entry-point``, then the training cell, then
    ``code/inference.py`` inside ``model.tar.gz``; a candidate that exists but defines
    neither is skipped, so a training script without handlers falls through to
    ``inference.py``. With ``required=False`` (the framework has a default ``model_fn``)
    the first script defining another handler is returned for it, or ``None``.
    """
    tried = []
    for candidate in candidates:
        if not candidate.is_file():
            continue
        tried.append(candidate.name)
        text = candidate.read_text(errors="replace")
        if "def model_fn" in text or "def transform_fn" in text:
            return candidate
    if not required:
        # Only a script that defines some handler is imported: a training script without
        # any must not run its training code in the serving worker.
        handler_names = ("input_fn", "predict_fn", "output_fn")
        for candidate in candidates:
            if candidate.is_file():
                text = candidate.read_text(errors="replace")
                if any(f"def {name}" in text for name in handler_names):
                    return candidate
        return None
    where = ", ".join(tried) if tried else "no script found"
    raise LoadError(
        f"No model_fn found ({where}). Define model_fn(model_dir) in the training cell, "
        "in --entry-point, or in code/inference.py inside model.tar.gz."
    )


def load_handlers(script: Path | None, defaults: ServingDefaults | None = None) -> Handlers:
    """Import ``script`` and resolve its handlers, filling in the framework's defaults.

    ``defaults`` are the serving container's (default: scikit-learn's, which has no
    ``model_fn``); with no script at all, every handler is the container's.
    """
    module = import_module_from(script) if script is not None else None
    name = script.name if script is not None else "the model"
    model_fn = getattr(module, "model_fn", None)
    transform_fn = getattr(module, "transform_fn", None)
    pipeline = [getattr(module, n, None) for n in ("input_fn", "predict_fn", "output_fn")]
    if transform_fn is not None and any(f is not None for f in pipeline):
        raise LoadError(
            f"{name} defines transform_fn and input_fn/predict_fn/output_fn; "
            "define one or the other, not both."
        )
    framework = defaults.name if defaults is not None else "sklearn"
    if model_fn is None and defaults is not None:
        model_fn = defaults.model_fn
    if model_fn is None:
        raise LoadError(
            f"{name} has no model_fn(model_dir); it is required "
            f"(the {framework} container has no default model_fn)."
        )
    input_fn, predict_fn, output_fn = pipeline
    if defaults is None:
        return Handlers(
            model_fn=model_fn,
            input_fn=input_fn or default_input_fn,
            predict_fn=predict_fn or default_predict_fn,
            output_fn=output_fn,
            transform_fn=transform_fn,
            source=str(script),
        )
    return Handlers(
        model_fn=model_fn,
        input_fn=input_fn or defaults.input_fn,
        predict_fn=predict_fn or defaults.predict_fn,
        output_fn=output_fn or defaults.output_fn,
        transform_fn=transform_fn,
        source=str(script) if script is not None else f"{framework} defaults",
    )


def load_model(handlers: Handlers, model_dir: Path) -> object:
    """Call ``model_fn``; its failure is the endpoint's failure reason."""
    try:
        return handlers.model_fn(str(model_dir))
    except Exception as exc:  # the endpoint's failure reason
        raise LoadError(f"model_fn raised {type(exc).__name__}: {exc}") from exc
