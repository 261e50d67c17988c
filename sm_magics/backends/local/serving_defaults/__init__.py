"""Which framework container's serving defaults a local endpoint imitates, and why.

SageMaker serves a model with the handlers of the container it is deployed to: a script
that defines only ``model_fn`` gets that container's ``input_fn``, ``predict_fn`` and
``output_fn`` (and, for some containers, its ``model_fn`` too). Local serving picks the
same container the SageMaker backend would deploy to, in this order (first answer wins):

1. ``SM_MAGICS_FRAMEWORK`` in the variant's environment (``%sm_deploy --framework``);
2. the training job's ``--framework``, or the framework named by its ``--image``;
3. what ``model.tar.gz`` holds (``model.pt`` is PyTorch, a saved booster is XGBoost, ...);
4. the scikit-learn container, the default container of ``%%sm_train``.

:func:`choose` returns the name and the reason; :func:`defaults_for` imports the
framework's module only then, inside the serving worker (never in the kernel).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sm_magics.errors import InvalidRequest

#: The variant environment key that names the framework (shared with the sagemaker backend).
FRAMEWORK_ENV = "SM_MAGICS_FRAMEWORK"
SKLEARN = "sklearn"
XGBOOST = "xgboost"
PYTORCH = "pytorch"
TENSORFLOW = "tensorflow"
HUGGINGFACE = "huggingface"
FRAMEWORKS = (SKLEARN, XGBOOST, PYTORCH, TENSORFLOW, HUGGINGFACE)
#: Containers that load a model without a user ``model_fn`` (scikit-learn's does not).
HAS_DEFAULT_MODEL_FN = frozenset({XGBOOST, PYTORCH, TENSORFLOW, HUGGINGFACE})
_ALIASES = {
    "scikit-learn": SKLEARN,
    "sklearn": SKLEARN,
    "xgboost": XGBOOST,
    "pytorch": PYTORCH,
    "torch": PYTORCH,
    "tensorflow": TENSORFLOW,
    "tf": TENSORFLOW,
    "huggingface": HUGGINGFACE,
    "hf": HUGGINGFACE,
}
# Image repository fragments -> framework (AWS's repository names, training or inference).
_IMAGE_HINTS = (
    ("huggingface", HUGGINGFACE),
    ("xgboost", XGBOOST),
    ("pytorch", PYTORCH),
    ("tensorflow", TENSORFLOW),
    ("scikit-learn", SKLEARN),
)
_XGBOOST_SUFFIXES = (".ubj", ".bst", ".xgb", ".model")


@dataclass(frozen=True)
class ServingDefaults:
    """The handlers a framework container supplies for the ones a script leaves out.

    ``model_fn`` is ``None`` when the container has no default loader (scikit-learn):
    the script must define one. ``content_types`` and ``accepts`` are what the default
    ``input_fn`` decodes and the default ``output_fn`` encodes, for describe and errors.
    """

    name: str
    model_fn: Callable[[str], object] | None
    input_fn: Callable[[bytes, str], object]
    predict_fn: Callable[[object, object], object]
    output_fn: Callable[[object, str], tuple[bytes, str]]
    content_types: tuple[str, ...]
    accepts: tuple[str, ...]


def normalise(framework: str) -> str:
    """Return the canonical name of ``framework`` (``scikit-learn`` -> ``sklearn``).

    Raises
    ------
    InvalidRequest
        Not a framework SageMaker has a serving container for.
    """
    name = _ALIASES.get(framework.strip().lower())
    if name is None:
        raise InvalidRequest(
            f"Unknown framework {framework!r}; use one of {', '.join(FRAMEWORKS)}."
        )
    return name


def framework_of_image(image: str | None) -> str | None:
    """Return the framework an AWS image URI belongs to, or ``None`` for another image."""
    if not image:
        return None
    repository = image.rsplit("/", 1)[-1].split(":", 1)[0].lower()
    for hint, name in _IMAGE_HINTS:
        if hint in repository:
            return name
    return None


def framework_of_model(model_dir: Path) -> str | None:
    """Guess the framework from the files of an extracted ``model.tar.gz``.

    Only unambiguous signs count: a TorchScript/PyTorch file, an XGBoost booster, a
    TensorFlow SavedModel, a Hugging Face ``config.json`` next to weights.
    """
    if not model_dir.is_dir():
        return None
    names = {p.name for p in model_dir.iterdir()}
    if "config.json" in names and names & {"pytorch_model.bin", "model.safetensors"}:
        return HUGGINGFACE
    if any(p.name == "saved_model.pb" for p in model_dir.rglob("saved_model.pb")):
        return TENSORFLOW
    if names & {"model.pt", "model.pth"}:
        return PYTORCH
    if "xgboost-model" in names or any(n.endswith(_XGBOOST_SUFFIXES) for n in names):
        return XGBOOST
    return None


def choose(
    environment: Mapping[str, str] | None,
    job_spec: Mapping[str, Any] | None,
    model_dir: Path,
) -> tuple[str, str]:
    """Return ``(framework, why)`` for one variant; see the module docstring for the order."""
    explicit = (environment or {}).get(FRAMEWORK_ENV)
    if explicit:
        return normalise(explicit), "--framework"
    if job_spec:
        if job_spec.get("framework"):
            return normalise(str(job_spec["framework"])), "the training job's framework"
        from_image = framework_of_image(job_spec.get("image"))
        if from_image:
            return from_image, "the training job's image"
    found = framework_of_model(model_dir)
    if found:
        return found, "the files in model.tar.gz"
    return SKLEARN, "the default container"


def for_variant(variant: Mapping[str, Any], model_dir: Path) -> tuple[str, str]:
    """Return ``(framework, why)`` for a variant's config (its environment and job)."""
    job_spec: dict[str, Any] | None = None
    if variant.get("job"):
        from sm_magics.backends.local.jobdir import JobDir

        job = JobDir.for_job(str(variant["job"]))
        if (job.root / "spec.json").is_file():
            job_spec = job.read_spec()
    return choose(variant.get("environment"), job_spec, model_dir)


def defaults_for(framework: str) -> ServingDefaults:
    """Import and return the serving defaults of ``framework`` (a :func:`normalise` name)."""
    module = importlib.import_module(f"{__name__}.{normalise(framework)}")
    defaults: ServingDefaults = module.DEFAULTS
    return defaults
