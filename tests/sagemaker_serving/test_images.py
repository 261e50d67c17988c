"""Which image serves a model: URI mapping, the lazy SDK fallback, and the error."""

from __future__ import annotations

import subprocess
import sys
import types
from typing import Any

import pytest

from sm_magics.backends.sagemaker import images
from sm_magics.errors import BackendUnavailable, InvalidRequest, SmMagicsNotice

DLC = "763104351884.dkr.ecr.us-west-2.amazonaws.com"
SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


@pytest.mark.parametrize(
    ("training", "instance", "inference"),
    [
        (
            f"{DLC}/pytorch-training:2.1-gpu-py310",
            "ml.m5.large",
            f"{DLC}/pytorch-inference:2.1-cpu-py310",
        ),
        (
            f"{DLC}/pytorch-training:2.1-cpu-py310",
            "ml.g5.xlarge",
            f"{DLC}/pytorch-inference:2.1-gpu-py310",
        ),
        (f"{DLC}/pytorch-training:2.1-gpu-py310", None, f"{DLC}/pytorch-inference:2.1-cpu-py310"),
        (
            f"{DLC}/mxnet-training:1.9.0-cpu-py38",
            "ml.c5.large",
            f"{DLC}/mxnet-inference:1.9.0-cpu-py38",
        ),
        (SKLEARN, "ml.m5.large", SKLEARN),
        (
            "246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-xgboost:1.7-1",
            "ml.m5.large",
            "246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-xgboost:1.7-1",
        ),
    ],
)
def test_inference_counterpart_from_the_uri_alone(training, instance, inference):
    assert images.inference_counterpart(training, instance) == inference


@pytest.mark.parametrize(
    ("training", "instance"),
    [
        # Long tags carry a CUDA and OS that the inference image does not share.
        (f"{DLC}/pytorch-training:2.1.0-gpu-py310-cu121-ubuntu20.04-sagemaker", "ml.m5.large"),
        (f"{DLC}/pytorch-training:2.1-gpu-py310", "ml.c7g.large"),  # Graviton
        (f"{DLC}/pytorch-training:2.1-gpu-py310", "ml.inf2.xlarge"),  # Inferentia
        (f"{DLC}/tensorflow-training:2.13-cpu-py310", "ml.m5.large"),  # other tag scheme
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/my-own:latest", "ml.m5.large"),
    ],
)
def test_no_counterpart_when_the_uri_does_not_tell(training, instance):
    assert images.inference_counterpart(training, instance) is None


def test_framework_of_parses_what_retrieve_needs():
    assert images.framework_of(f"{DLC}/pytorch-training:2.1.0-gpu-py310-cu121") == images.Framework(
        "pytorch", "2.1.0", "py310"
    )
    assert images.framework_of(SKLEARN) == images.Framework("sklearn", "1.2-1", "py3")
    assert images.framework_of("example.com/other:1") is None


def test_explicit_image_wins_and_reserved_keys_never_reach_the_container():
    environment = {"SM_MAGICS_IMAGE": "my/image:1", "SM_MAGICS_FRAMEWORK": "x", "A": "1"}
    image = images.resolve(
        region="us-east-1",
        instance_type="ml.m5.large",
        environment=environment,
        training_image=SKLEARN,
    )
    assert image == "my/image:1"
    assert images.container_environment(environment) == {"A": "1"}


def test_a_bring_your_own_training_image_serves_too():
    own = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-own:latest"
    assert (
        images.resolve(
            region="us-east-1", instance_type="ml.m5.large", environment={}, training_image=own
        )
        == own
    )


@pytest.fixture
def no_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``sagemaker.core.image_uris`` unimportable, whatever is installed."""
    monkeypatch.setitem(sys.modules, "sagemaker.core.image_uris", None)


@pytest.fixture
def fake_sdk(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """A stand-in ``sagemaker.core.image_uris`` recording its calls."""
    calls: list[dict[str, Any]] = []

    def retrieve(framework: str, region: str, **kw: Any) -> str:
        calls.append({"framework": framework, "region": region, **kw})
        if kw["version"] == "0.0":
            raise ValueError("Unsupported version 0.0")
        return f"{framework}-inference:{kw['version']}"

    module = types.ModuleType("sagemaker.core.image_uris")
    module.retrieve = retrieve  # type: ignore[attr-defined]
    for name in ("sagemaker", "sagemaker.core"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "sagemaker.core.image_uris", module)
    return calls


def test_the_sdk_is_asked_for_inference_scope_when_the_uri_does_not_tell(fake_sdk):
    long_tag = f"{DLC}/pytorch-training:2.1.0-gpu-py310-cu121-ubuntu20.04-sagemaker"
    image = images.resolve(
        region="us-west-2", instance_type="ml.g5.xlarge", environment={}, training_image=long_tag
    )
    assert image == "pytorch-inference:2.1.0"
    assert fake_sdk == [
        {
            "framework": "pytorch",
            "region": "us-west-2",
            "version": "2.1.0",
            "py_version": "py310",
            "instance_type": "ml.g5.xlarge",
            "image_scope": "inference",
        }
    ]


def test_framework_from_env_or_the_jobs_ledger_spec(fake_sdk):
    images.resolve(
        region="us-east-1",
        instance_type="ml.m5.large",
        environment={"SM_MAGICS_FRAMEWORK": "sklearn", "SM_MAGICS_FRAMEWORK_VERSION": "1.4-2"},
    )
    images.resolve(
        region="us-east-1",
        instance_type="ml.m5.large",
        environment={},
        job_spec={"framework": "xgboost", "framework_version": "1.7-1", "py_version": None},
    )
    assert [(c["framework"], c["version"]) for c in fake_sdk] == [
        ("sklearn", "1.4-2"),
        ("xgboost", "1.7-1"),
    ]


def test_an_unknown_version_says_how_to_name_the_image(fake_sdk):
    with pytest.raises(InvalidRequest, match="SM_MAGICS_IMAGE"):
        images.resolve(
            region="us-east-1",
            instance_type="ml.m5.large",
            environment={"SM_MAGICS_FRAMEWORK": "sklearn", "SM_MAGICS_FRAMEWORK_VERSION": "0.0"},
        )


def test_without_the_sdk_extra_the_message_says_what_to_install(no_sdk):
    long_tag = f"{DLC}/pytorch-training:2.1.0-gpu-py310-cu121-ubuntu20.04-sagemaker"
    with pytest.raises(BackendUnavailable) as caught:
        images.resolve(
            region="us-west-2", instance_type="ml.m5.large", environment={}, training_image=long_tag
        )
    assert "pip install 'sm-magics[sagemaker]'" in str(caught.value)
    assert "SM_MAGICS_IMAGE" in str(caught.value)


def test_a_bare_model_uri_is_served_by_the_default_container():
    with pytest.warns(SmMagicsNotice, match="SM_MAGICS_IMAGE"):  # says how to choose another
        image = images.resolve(region="us-east-1", instance_type="ml.m5.large", environment={})
    assert image == images.default_sklearn_image("us-east-1")
    assert (
        image == "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    )


def test_a_training_image_with_no_known_server_is_refused():
    with pytest.raises(InvalidRequest, match="Cannot tell which container serves"):
        images.resolve(
            region="us-west-2",
            instance_type="ml.m5.large",
            environment={},
            training_image=f"{DLC}/huggingface-pytorch-training:2.1-gpu-py310",
        )


def test_the_backend_imports_without_the_sdk():
    code = (
        "import sys, sm_magics.backends.sagemaker.serving, sm_magics.backends.sagemaker.transform;"
        "assert not [m for m in sys.modules if m == 'sagemaker' or m.startswith('sagemaker.')]"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
