"""Libraries that exist only inside AWS's container images, named in failure reasons.

A script-mode script runs locally with the notebook's Python. A few of the libraries
AWS's framework images carry cannot be installed anywhere else (they are built into the
images, not published on PyPI); a script importing one fails with a bare
``ModuleNotFoundError``. :func:`explain` adds which library it is and that it exists only
in the container, so the user knows the local run cannot get further, and where it will.
"""

from __future__ import annotations

import re

#: Top-level module -> what it is (only in AWS's images, not installable with pip).
CONTAINER_ONLY = {
    "smdistributed": "SageMaker's distributed data/model parallel library (smdistributed)",
    "smddp": "SageMaker's distributed data parallel NCCL plugin (smddp)",
    "smdebug_rulesconfig": "SageMaker Debugger's built-in rules",
    "mlio": "AWS's mlio data reader of the XGBoost and built-in algorithm images",
    "sagemaker_xgboost_container": "the XGBoost container's own package",
    "sagemaker_pytorch_serving_container": "the PyTorch inference container's own package",
    "sagemaker_sklearn_container": "the scikit-learn container's own package",
    "neuronx_distributed": "AWS Neuron's distributed library (Trainium/Inferentia images)",
    "torch_neuronx": "AWS Neuron's PyTorch plugin (Trainium/Inferentia images)",
}
_MISSING = re.compile(r"No module named '([\w.]+)'")


def explain(message: str) -> str:
    """Return ``message`` with a note when it is a missing container-only library."""
    match = _MISSING.search(message)
    if match is None:
        return message
    top = match.group(1).split(".", 1)[0]
    what = CONTAINER_ONLY.get(top)
    if what is None:
        return message
    return (
        f"{message}\n{top} is {what}: it exists only inside AWS's container images, so this "
        "script runs on the sagemaker backend, not locally."
    )
