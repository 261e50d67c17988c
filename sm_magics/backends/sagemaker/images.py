"""Which container image serves a model: the inference side of a training image.

A SageMaker training job names the image it trained in (``TrainingImage``); the endpoint
needs the image that *serves* that framework and version. This module decides it, in
this order, and the first answer wins:

1. an explicit image: ``--env SM_MAGICS_IMAGE=<uri>`` on ``%sm_deploy`` / ``%sm_batch``
   (every ``SM_MAGICS_*`` key is ours and never reaches the container);
2. the training image's counterpart where it can be derived from the URI alone, with no
   SDK and no network: the scikit-learn and XGBoost containers serve with the very image
   they train with, and the PyTorch/MXNet deep learning containers have an
   ``*-inference`` repository whose short tags (``2.1-cpu-py310``) mirror the training
   ones, the device following the *inference* instance type (a model trained on a GPU is
   usually served on a CPU);
3. ``sagemaker.core.image_uris.retrieve(..., image_scope="inference")`` from the optional
   ``sagemaker`` extra, imported only now (it costs ~2 s and ~1 GB, see DESIGN.md), with
   the framework, version and Python taken from ``SM_MAGICS_FRAMEWORK`` /
   ``SM_MAGICS_FRAMEWORK_VERSION`` / ``SM_MAGICS_PY_VERSION``, else from the training job's
   ledger spec (``--framework`` ...), else parsed from the training image's URI;
4. a training image that is not an AWS framework image (its repository does not end in
   ``-training``) is a bring-your-own container, which SageMaker runs with ``serve`` for
   inference: the same image is used;
5. nothing tells (a bare ``model.tar.gz`` URI): the default container,
   :func:`default_sklearn_image`, the one ``%%sm_train`` trains in when given no image, so a
   notebook that names no container trains and serves in the same one. A notice on stderr
   names it and the way to choose another.

A framework version the SDK does not know, or the SDK missing when it is needed, is an
:class:`~sm_magics.errors.InvalidRequest` / :class:`~sm_magics.errors.BackendUnavailable`
that names the ways out.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sm_magics import errors
from sm_magics.errors import BackendUnavailable, InvalidRequest

#: ``--env`` keys that configure sm-magics itself; stripped from the container environment.
RESERVED_ENV_PREFIX = "SM_MAGICS_"
IMAGE_ENV = "SM_MAGICS_IMAGE"
FRAMEWORK_ENV = "SM_MAGICS_FRAMEWORK"
FRAMEWORK_VERSION_ENV = "SM_MAGICS_FRAMEWORK_VERSION"
PY_VERSION_ENV = "SM_MAGICS_PY_VERSION"

# registry/repository:tag, optionally pinned by digest.
_IMAGE_RE = re.compile(r"^(?P<registry>[^/]+)/(?P<repo>[^:@]+)(?::(?P<tag>[^@]+))?(?:@.+)?$")
# The short deep-learning-container tag: "2.1-gpu-py310", "1.9.0-cpu-py38".
_SHORT_DLC_TAG = re.compile(r"^(?P<version>\d[\w.]*)-(?P<device>cpu|gpu)-(?P<py>py\d+)$")
# Repositories whose one image both trains and serves.
_SAME_IMAGE_REPOS = frozenset({"sagemaker-scikit-learn", "sagemaker-xgboost"})
# Training repositories with an inference repository of the same tag scheme.
_DLC_COUNTERPARTS = {"pytorch-training": "pytorch-inference", "mxnet-training": "mxnet-inference"}
# Repository -> the framework name image_uris.retrieve knows it by.
_FRAMEWORK_OF_REPO = {
    "pytorch-training": "pytorch",
    "pytorch-inference": "pytorch",
    "tensorflow-training": "tensorflow",
    "tensorflow-inference": "tensorflow",
    "mxnet-training": "mxnet",
    "mxnet-inference": "mxnet",
    "sagemaker-scikit-learn": "sklearn",
    "sagemaker-xgboost": "xgboost",
}
# x86 CPU families; the Graviton ones (c6g, m7g, ...) have their own images.
_CPU_FAMILY = re.compile(r"^ml\.(c|m|r|t|x|z)\d+[a-z]*\.")
_GPU_FAMILY = re.compile(r"^ml\.(g|p)\d+[a-z]*\.")


# -- the default container ------------------------------------------------------------------

#: The scikit-learn container version used when a job or model names no image. 1.2-1 is
#: the newest version AWS lists for both training *and* inference in every region below
#: (1.4-2 is listed for training only), and scikit-learn containers serve with the image
#: they train with, so a model trained with the default is served by the same image.
DEFAULT_SKLEARN_VERSION = "1.2-1"
SKLEARN_REPOSITORY = "sagemaker-scikit-learn"

#: The AWS account that publishes the SageMaker scikit-learn containers, per region. Facts
#: from AWS's "Docker Registry Paths and Example Code" pages
#: (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-algo-docker-registry-paths.html,
#: one page per region, section "Scikit-learn (algorithm)"). Bundled so that the default
#: image needs neither the SageMaker SDK (~1 GB, seconds to import) nor the network.
SKLEARN_REGISTRIES: dict[str, str] = {
    "af-south-1": "510948584623",
    "ap-east-1": "651117190479",
    "ap-northeast-1": "354813040037",
    "ap-northeast-2": "366743142698",
    "ap-northeast-3": "867004704886",
    "ap-south-1": "720646828776",
    "ap-south-2": "628508329040",
    "ap-southeast-1": "121021644041",
    "ap-southeast-2": "783357654285",
    "ap-southeast-3": "951798379941",
    "ap-southeast-4": "106583098589",
    "ca-central-1": "341280168497",
    "ca-west-1": "190319476487",
    "cn-north-1": "450853457545",
    "cn-northwest-1": "451049120500",
    "eu-central-1": "492215442770",
    "eu-central-2": "680994064768",
    "eu-north-1": "662702820516",
    "eu-south-1": "978288397137",
    "eu-south-2": "104374241257",
    "eu-west-1": "141502667606",
    "eu-west-2": "764974769150",
    "eu-west-3": "659782779980",
    "il-central-1": "898809789911",
    "me-central-1": "272398656194",
    "me-south-1": "801668240914",
    "sa-east-1": "737474898029",
    "us-east-1": "683313688378",
    "us-east-2": "257758044811",
    "us-gov-east-1": "237065988967",
    "us-gov-west-1": "414596584902",
    "us-west-1": "746614075791",
    "us-west-2": "246618743249",
}


def default_sklearn_image(region: str) -> str:
    """Return the SageMaker scikit-learn container of :data:`DEFAULT_SKLEARN_VERSION`.

    The default when nothing names a container: scikit-learn, NumPy, pandas and joblib
    are what a notebook's first training cell most often needs, and the image both trains
    and serves (script mode, ``model_fn`` in the training script).

    Raises
    ------
    InvalidRequest
        A region the table does not know (new, or an isolated partition).
    """
    account = SKLEARN_REGISTRIES.get(region)
    if account is None:
        raise InvalidRequest(
            f"sm-magics knows no default container for {region}: name one with --image URI "
            "(training) or --env SM_MAGICS_IMAGE=<image URI> (serving)."
        )
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return (
        f"{account}.dkr.ecr.{region}.{domain}/{SKLEARN_REPOSITORY}:"
        f"{DEFAULT_SKLEARN_VERSION}-cpu-py3"
    )


def notice(message: str) -> None:
    """Tell the user a choice was made for them: a :class:`~sm_magics.errors.SmMagicsNotice`."""
    errors.notice(message, stacklevel=2)


@dataclass(frozen=True)
class Framework:
    """A framework container as ``image_uris.retrieve`` names it."""

    name: str
    version: str
    py_version: str | None = None


def device_of(instance_type: str) -> str | None:
    """Return ``"cpu"`` or ``"gpu"`` for an x86 or NVIDIA instance type, else ``None``.

    ``None`` (Graviton, Inferentia, Trainium) means the short tag mapping does
    not apply: those instances need images with other tags, which only the SDK knows.
    """
    family = instance_type.split(".")[1] if instance_type.count(".") >= 2 else ""
    if _GPU_FAMILY.match(instance_type):
        return "gpu"
    if _CPU_FAMILY.match(instance_type) and not re.search(r"\d+[a-z]*g[a-z]*$", family):
        return "cpu"
    return None


def inference_counterpart(training_image: str, instance_type: str | None) -> str | None:
    """Return the inference image of ``training_image`` if the URI alone tells it.

    ``instance_type`` is where the model will run (``None`` for serverless endpoints, which
    run on CPUs).
    """
    match = _IMAGE_RE.match(training_image)
    if match is None:
        return None
    repo = match["repo"]
    if repo.rsplit("/", 1)[-1] in _SAME_IMAGE_REPOS:
        return training_image
    counterpart = _DLC_COUNTERPARTS.get(repo)
    tag = _SHORT_DLC_TAG.match(match["tag"] or "")
    if counterpart is None or tag is None:
        return None
    device = "cpu" if instance_type is None else device_of(instance_type)
    if device is None:
        return None
    return f"{match['registry']}/{counterpart}:{tag['version']}-{device}-{tag['py']}"


def framework_of(training_image: str) -> Framework | None:
    """Parse a framework image URI into what ``image_uris.retrieve`` needs, if it is one."""
    match = _IMAGE_RE.match(training_image)
    if match is None:
        return None
    name = _FRAMEWORK_OF_REPO.get(match["repo"].rsplit("/", 1)[-1])
    tag = match["tag"] or ""
    if name is None or not tag:
        return None
    parts = tag.split("-")
    py_version = next((p for p in parts if re.fullmatch(r"py\d+", p)), None)
    # sklearn/xgboost versions contain a hyphen ("1.2-1"); DLC tags start "2.1-gpu-...".
    if name in ("sklearn", "xgboost"):
        version = "-".join(parts[:2]) if len(parts) > 1 and parts[1].isdigit() else parts[0]
    else:
        version = parts[0]
    return Framework(name, version, py_version)


def is_framework_training_image(image: str) -> bool:
    """Whether ``image`` is an AWS framework *training* image (which cannot serve)."""
    match = _IMAGE_RE.match(image)
    return match is not None and match["repo"].endswith("-training")


def retrieve(framework: Framework, region: str, instance_type: str | None) -> str:
    """Ask the optional ``sagemaker`` SDK for a framework's inference image URI.

    Imported here and nowhere else, because importing ``sagemaker.core`` costs seconds and
    pulls ~130 packages: only users whose model needs it pay for it.
    """
    try:
        image_uris = importlib.import_module("sagemaker.core.image_uris")
    except ImportError as exc:
        raise BackendUnavailable(
            f"Finding the inference image for {framework.name} {framework.version} needs the "
            "SageMaker SDK: pip install 'sm-magics[sagemaker]'. Or name the image yourself: "
            f"%sm_deploy ... --env {IMAGE_ENV}=<image URI>."
        ) from exc
    try:
        uri = image_uris.retrieve(
            framework.name,
            region,
            version=framework.version,
            py_version=framework.py_version,
            instance_type=instance_type or "ml.m5.large",
            image_scope="inference",
        )
    except ValueError as exc:
        raise InvalidRequest(
            f"No {framework.name} {framework.version} inference image for "
            f"{instance_type or 'serverless'} in {region}: {exc}. Pass "
            f"--env {IMAGE_ENV}=<image URI>."
        ) from None
    return str(uri)


def resolve(
    *,
    region: str,
    instance_type: str | None,
    environment: Mapping[str, str],
    training_image: str | None = None,
    job_spec: Mapping[str, object] | None = None,
) -> str:
    """Return the image that serves a model, following the order of the module docstring.

    Parameters
    ----------
    region
        Where the model will run (images live in per-region registries).
    instance_type
        The serving instance type; ``None`` for serverless.
    environment
        The variant's ``--env``; only its ``SM_MAGICS_*`` keys are read.
    training_image
        ``AlgorithmSpecification.TrainingImage`` of the job the model came from.
    job_spec
        That job's ledger spec (``framework``, ``framework_version``, ``py_version``).
    """
    explicit = environment.get(IMAGE_ENV)
    if explicit:
        return explicit
    if training_image:
        mapped = inference_counterpart(training_image, instance_type)
        if mapped:
            return mapped
    framework = _framework_from(environment, job_spec, training_image)
    if framework is not None:
        return retrieve(framework, region, instance_type)
    if training_image and not is_framework_training_image(training_image):
        return training_image  # bring-your-own container: it serves with `serve`
    if not training_image:
        image = default_sklearn_image(region)
        notice(
            f"serving in the default container {image} (scikit-learn {DEFAULT_SKLEARN_VERSION});"
            f" choose another with --env {IMAGE_ENV}=<image URI>."
        )
        return image
    raise InvalidRequest(
        f"Cannot tell which container serves the training image {training_image}. Name the "
        f"image with --env {IMAGE_ENV}=<image URI>, or the framework with --env "
        f"{FRAMEWORK_ENV}=sklearn --env {FRAMEWORK_VERSION_ENV}=1.2-1 (needs pip install "
        "'sm-magics[sagemaker]')."
    )


def _framework_from(
    environment: Mapping[str, str],
    job_spec: Mapping[str, object] | None,
    training_image: str | None,
) -> Framework | None:
    if environment.get(FRAMEWORK_ENV):
        return Framework(
            environment[FRAMEWORK_ENV],
            environment.get(FRAMEWORK_VERSION_ENV) or "latest",
            environment.get(PY_VERSION_ENV) or None,
        )
    spec = job_spec or {}
    if spec.get("framework") and spec.get("framework_version"):
        py = spec.get("py_version")
        return Framework(
            str(spec["framework"]), str(spec["framework_version"]), str(py) if py else None
        )
    return framework_of(training_image) if training_image else None


def container_environment(environment: Mapping[str, str]) -> dict[str, str]:
    """Return ``environment`` without the ``SM_MAGICS_*`` keys that configure us."""
    return {k: v for k, v in environment.items() if not k.startswith(RESERVED_ENV_PREFIX)}
