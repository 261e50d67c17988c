"""The scikit-learn container's defaults: numpy in, ``model.predict``, numpy out.

These are the SageMaker inference toolkit's own defaults (JSON, CSV and NPY decoded to
numpy arrays and encoded back); the container has no default ``model_fn``.
"""

from __future__ import annotations

from sm_magics.backends.local import inference
from sm_magics.backends.local.serving_defaults import SKLEARN, ServingDefaults

DEFAULTS = ServingDefaults(
    name=SKLEARN,
    model_fn=None,
    input_fn=inference.default_input_fn,
    predict_fn=inference.default_predict_fn,
    output_fn=inference.default_output_fn,
    content_types=inference.SUPPORTED,
    accepts=inference.SUPPORTED,
)
