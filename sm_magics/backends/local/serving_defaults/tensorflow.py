"""TensorFlow: served by TensorFlow Serving inside its container, which we cannot run.

The SageMaker TensorFlow container does not call Python handlers by default: it starts
TensorFlow Serving on the SavedModel and forwards ``/invocations`` to its REST API
(``{"instances": [...]}`` in, ``{"predictions": [...]}`` out), with an optional
``inference.py`` whose ``input_handler``/``output_handler`` wrap that call. Locally we
serve the SavedModel with TensorFlow's own Python loader when TensorFlow is installed,
answering the same JSON shapes; what cannot be reproduced without the container is
TensorFlow Serving itself (its batching, its gRPC port, model versions and
``input_handler``/``output_handler`` scripts): a script with only those handlers fails
with a message saying so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sm_magics.backends.local import inference
from sm_magics.backends.local.serving_defaults import TENSORFLOW, ServingDefaults


def model_fn(model_dir: str) -> Any:
    """Load the SavedModel (the folder itself, or its newest numbered version)."""
    try:
        import tensorflow as tf
    except ImportError:
        raise ModuleNotFoundError(
            "Serving a TensorFlow SavedModel locally needs tensorflow installed in the "
            "serving Python; on SageMaker it is TensorFlow Serving, which exists only in the "
            "TensorFlow inference container."
        ) from None
    root = Path(model_dir)
    versions = sorted(
        (p for p in root.rglob("saved_model.pb")), key=lambda p: str(p.parent), reverse=True
    )
    if not versions:
        raise FileNotFoundError(f"No saved_model.pb under {model_dir}.")
    return tf.saved_model.load(str(versions[0].parent))


def input_fn(body: bytes, content_type: str) -> Any:
    """Accept TF Serving's ``{"instances": [...]}`` or a bare JSON list (and CSV, NPY)."""
    if inference.base_type(content_type) == inference.JSON:
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise inference.BadRequest(f"Could not decode the body as JSON: {exc}") from None
        if isinstance(data, dict):
            data = data.get("instances", data.get("inputs"))
        import numpy as np

        return np.array(data)
    return inference.default_input_fn(body, content_type)


def predict_fn(data: Any, model: Any) -> Any:
    """Call the SavedModel's ``serving_default`` signature (or the model itself)."""
    import tensorflow as tf

    signature = getattr(model, "signatures", {}).get("serving_default")
    tensor = tf.constant(data, dtype=tf.float32)
    if signature is None:
        return model(tensor)
    outputs = signature(tensor)
    return next(iter(outputs.values())) if len(outputs) == 1 else outputs


def output_fn(prediction: Any, accept: str) -> tuple[bytes, str]:
    """Answer ``{"predictions": [...]}`` as TF Serving's REST API does."""
    if hasattr(prediction, "numpy"):
        prediction = prediction.numpy()
    kind = inference.choose_accept(accept)
    if kind == inference.JSON:
        listed = prediction.tolist() if hasattr(prediction, "tolist") else prediction
        return json.dumps({"predictions": listed}).encode(), inference.JSON
    return inference.default_output_fn(prediction, accept)


DEFAULTS = ServingDefaults(
    name=TENSORFLOW,
    model_fn=model_fn,
    input_fn=input_fn,
    predict_fn=predict_fn,
    output_fn=output_fn,
    content_types=inference.SUPPORTED,
    accepts=inference.SUPPORTED,
)
