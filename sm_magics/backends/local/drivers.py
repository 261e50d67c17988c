"""The SDK v3 ``ModelTrainer`` conventions, for ``--driver modeltrainer``.

New AWS examples are written for ``sagemaker.train.ModelTrainer``, whose container
drivers differ from the framework containers' training toolkit:

- the code is an input channel: ``/opt/ml/input/data/code`` (``SM_SOURCE_DIR``), and the
  script (``SM_ENTRY_SCRIPT``) runs from there;
- hyperparameters reach the script as ``--key value`` in the order given, each value
  JSON-encoded unless it is a string (``--epochs 3 --flag true --layers [1, 2]``), not the
  toolkit's sorted ``str()`` form;
- ``SM_MASTER_ADDR`` (always the first host's name: the drivers compare it with
  ``SM_CURRENT_HOST`` to find the master), ``SM_MASTER_PORT``, ``SM_HOST_COUNT``,
  ``SM_CURRENT_HOST_RANK``, ``SM_HPS``, ``SM_INPUT_DATA_DIR``, ``SM_OUTPUT_FAILURE``,
  ``SM_LOG_LEVEL`` and the v3 ``SM_TRAINING_ENV`` are set.

The variables are computed by :mod:`sm_magics.backends.modeltrainer_driver`, the very
driver the sagemaker backend uploads, from the host's config files: both backends agree
by construction. The framework-container conventions stay the default.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sm_magics.backends import modeltrainer_driver
from sm_magics.backends.local.jobdir import JobDir

MODELTRAINER = "modeltrainer"
DRIVERS = (MODELTRAINER,)
CODE_CHANNEL = modeltrainer_driver.CODE_CHANNEL
serialise = modeltrainer_driver.serialise
cli_args = modeltrainer_driver.cli_args


def hyperparameters_file(hyperparameters: dict[str, Any]) -> dict[str, str]:
    """Return ``hyperparameters.json`` as SageMaker writes it for a ModelTrainer job.

    ModelTrainer sends each value through :func:`serialise` and nothing else (no
    ``sagemaker_program``: its driver, not the image's toolkit, runs the script).
    """
    return {key: serialise(value) for key, value in hyperparameters.items()}


def code_dir(job: JobDir) -> Path:
    """Return the code channel folder (a link to the staged code), creating it once."""
    channel = job.input_data / CODE_CHANNEL
    if not channel.exists() and not channel.is_symlink():
        channel.parent.mkdir(parents=True, exist_ok=True)
        channel.symlink_to(job.code, target_is_directory=True)
    return channel


def environment(
    job: JobDir,
    host: str,
    spec: dict[str, Any],
    master_port: int,
    base_env: dict[str, str],
) -> dict[str, str]:
    """Return the variables the v3 drivers set for ``host``, from its own config files.

    The same function the driver runs on SageMaker, given the files SageMaker would
    give it; only the machine's counts come from the local backend's own variables.
    """
    root = job.host_root(host)
    config = root / "input" / "config"

    def count(name: str, default: int) -> int:
        try:
            return int(base_env.get(name, default))
        except ValueError:
            return default

    return modeltrainer_driver.environment(
        str(root),
        resource_config=json.loads((config / "resourceconfig.json").read_text()),
        input_data_config=json.loads((config / "inputdataconfig.json").read_text()),
        hyperparameters=json.loads((config / "hyperparameters.json").read_text()),
        entry_script=spec["entry_point"],
        job_name=spec["name"],
        master_port=master_port,
        counts={
            "num_cpus": count("SM_NUM_CPUS", 1),
            "num_gpus": count("SM_NUM_GPUS", 0),
            "num_neurons": count("SM_NUM_NEURONS", 0),
        },
    )
