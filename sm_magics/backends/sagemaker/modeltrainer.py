"""``--driver modeltrainer`` on SageMaker: the request the SDK v3 ``ModelTrainer`` sends.

``ModelTrainer`` does not use the image's training toolkit. Its ``CreateTrainingJob``
request:

- overrides the image's entry point: ``AlgorithmSpecification.ContainerEntrypoint`` is
  ``["/bin/bash"]`` and ``ContainerArguments`` runs ``sm_train.sh`` from the
  ``sm_drivers`` channel;
- adds two input channels after the user's: ``code`` (the source folder, file by file,
  at ``/opt/ml/input/data/code``) and ``sm_drivers`` (the shell script, the Python
  driver and ``sourcecode.json`` naming the entry script);
- sends each hyperparameter serialised its way (strings bare, the rest JSON) and no
  ``sagemaker_program`` / ``sagemaker_submit_directory``.

The driver uploaded here is sm-magics' own (:mod:`sm_magics.backends.modeltrainer_driver`),
the same file the local backend computes a ModelTrainer host's variables with, so a script
sees the same variables and arguments on both backends. The shell script only finds a
Python in the image and hands over to it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from sm_magics.backends import modeltrainer_driver
from sm_magics.backends.specs import TrainingSpec
from sm_magics.errors import InvalidRequest

MODELTRAINER = "modeltrainer"
DRIVERS_PATH = "/opt/ml/input/data/" + modeltrainer_driver.DRIVERS_CHANNEL
TRAIN_SCRIPT = "sm_train.sh"
DRIVER_SCRIPT = "driver.py"
CONTAINER_ENTRYPOINT = ["/bin/bash"]
CONTAINER_ARGUMENTS = [
    "-c",
    f"chmod +x {DRIVERS_PATH}/{TRAIN_SCRIPT} && {DRIVERS_PATH}/{TRAIN_SCRIPT}",
]

#: Finds the image's Python and replaces itself with the driver (which then is the
#: container's first process and passes StopTrainingJob's SIGTERM on to the script).
_SHELL = f"""#!/bin/bash
# sm-magics: run the ModelTrainer-style driver with the image's Python.
set -e
PYTHON="$(command -v python3 || command -v python || true)"
if [ -z "$PYTHON" ]; then
    echo "sm-magics: this image has no python3 or python on PATH" | tee -a /opt/ml/output/failure
    exit 1
fi
"$PYTHON" --version
exec "$PYTHON" {DRIVERS_PATH}/{DRIVER_SCRIPT} --root /opt/ml
"""


def check(spec: TrainingSpec) -> None:
    """Refuse what the uploaded driver does not do (yet), before anything is uploaded."""
    taken = sorted(set(spec.inputs) & set(modeltrainer_driver.DRIVER_CHANNELS))
    if taken:
        raise InvalidRequest(
            f"--driver modeltrainer adds the channels code and sm_drivers itself: rename the "
            f"input channel {', '.join(taken)}."
        )
    if spec.distribution:
        raise InvalidRequest(
            f"--driver modeltrainer with --distribution {spec.distribution} runs locally only "
            "for now; on SageMaker drop --driver (the framework container starts the "
            "launcher) or use sagemaker.train.ModelTrainer(distributed=...)."
        )


def hyperparameters(spec: TrainingSpec) -> dict[str, str]:
    """Return ``HyperParameters`` as ModelTrainer sends them."""
    return {key: modeltrainer_driver.serialise(v) for key, v in spec.hyperparameters.items()}


def algorithm_extras() -> dict[str, Any]:
    """Return what ModelTrainer adds to ``AlgorithmSpecification``."""
    return {
        "ContainerEntrypoint": list(CONTAINER_ENTRYPOINT),
        "ContainerArguments": list(CONTAINER_ARGUMENTS),
    }


def write_drivers(folder: Path, spec: TrainingSpec) -> Path:
    """Lay out the ``sm_drivers`` channel in ``folder``; return it.

    Deterministic (same spec, same bytes), so its content hash names it and a rerun
    uploads nothing.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / TRAIN_SCRIPT).write_text(_SHELL)
    shutil.copyfile(modeltrainer_driver.__file__, folder / DRIVER_SCRIPT)
    source = {"entry_script": spec.entry_point, "source_dir": "."}
    (folder / modeltrainer_driver.SOURCE_CODE_JSON).write_text(json.dumps(source, sort_keys=True))
    (folder / "distributed.json").write_text("{}")
    return folder


def channel(name: str, uri: str) -> dict[str, Any]:
    """Return one of the two channels ModelTrainer adds (File mode, fully replicated)."""
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": uri,
                "S3DataDistributionType": "FullyReplicated",
            }
        },
        "InputMode": "File",
    }
