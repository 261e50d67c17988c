"""Hugging Face: the container's ``transformers.pipeline`` defaults, where installed.

The SageMaker Hugging Face inference container loads the model folder with
``transformers.pipeline`` (the task from ``HF_TASK`` or the model's config), decodes
``{"inputs": ..., "parameters": {...}}`` JSON and answers the pipeline's output as JSON.
Locally we do the same when ``transformers`` is installed in the serving Python. What
needs the container: ``HF_MODEL_ID`` downloads from the Hub at start-up (we serve only
what is in ``model.tar.gz``), audio and image payloads, and its optimised runtimes
(Neuron, DJL, TGI); a request needing those fails with a message saying so.
"""

from __future__ import annotations

import json
import os
from typing import Any

from sm_magics.backends.local import inference
from sm_magics.backends.local.serving_defaults import HUGGINGFACE, ServingDefaults


def model_fn(model_dir: str) -> Any:
    """Return ``transformers.pipeline(task, model=model_dir)``."""
    try:
        import transformers
    except ImportError:
        raise ModuleNotFoundError(
            "Serving a Hugging Face model locally needs transformers installed in the "
            "serving Python (the Hugging Face inference container ships it)."
        ) from None
    return transformers.pipeline(os.environ.get("HF_TASK") or None, model=model_dir)


def input_fn(body: bytes, content_type: str) -> Any:
    """Decode ``{"inputs": ..., "parameters": ...}`` JSON; other types need the container."""
    if inference.base_type(content_type) != inference.JSON:
        raise inference.UnsupportedContentType(
            f"Content type {content_type!r}: the local Hugging Face defaults read JSON "
            "only; audio and image payloads are decoded inside the Hugging Face container."
        )
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise inference.BadRequest(f"Could not decode the body as JSON: {exc}") from None
    return data if isinstance(data, dict) else {"inputs": data}


def predict_fn(data: Any, model: Any) -> Any:
    """Call the pipeline with ``inputs`` and ``parameters``."""
    return model(data["inputs"], **(data.get("parameters") or {}))


def output_fn(prediction: Any, accept: str) -> tuple[bytes, str]:
    """Answer the pipeline's output as JSON."""
    return inference.default_output_fn(prediction, accept)


DEFAULTS = ServingDefaults(
    name=HUGGINGFACE,
    model_fn=model_fn,
    input_fn=input_fn,
    predict_fn=predict_fn,
    output_fn=output_fn,
    content_types=(inference.JSON,),
    accepts=inference.SUPPORTED,
)
