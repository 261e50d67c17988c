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
  ``SM_LOG_LEVEL`` and a smaller ``SM_TRAINING_ENV`` are set.

The framework-container conventions stay the default.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sm_magics.backends.local.jobdir import JobDir

MODELTRAINER = "modeltrainer"
DRIVERS = (MODELTRAINER,)
CODE_CHANNEL = "code"


def serialise(value: Any) -> str:
    """Return ``value`` as the v3 drivers pass it: strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value)
    except TypeError:
        return str(value)


def cli_args(hyperparameters: dict[str, Any]) -> list[str]:
    """Return ``--key value`` pairs in the given order, values through :func:`serialise`."""
    args: list[str] = []
    for key, value in hyperparameters.items():
        args += [f"--{key}", serialise(value)]
    return args


def code_dir(job: JobDir) -> Path:
    """Return the code channel folder (a link to the staged code), creating it once."""
    channel = job.input_data / CODE_CHANNEL
    if not channel.exists() and not channel.is_symlink():
        channel.parent.mkdir(parents=True, exist_ok=True)
        channel.symlink_to(job.code, target_is_directory=True)
    return channel


def environment(
    job: JobDir, host: str, hosts: list[str], spec: dict[str, Any], master_port: int
) -> dict[str, str]:
    """Return the variables the v3 drivers add or change for ``host``."""
    root = job.host_root(host)
    hps: dict[str, Any] = spec["hyperparameters"]
    data_dir = root / "input" / "data"
    channels = sorted(spec["inputs"])
    values: dict[str, Any] = {
        "SM_SOURCE_DIR": str(data_dir / CODE_CHANNEL),
        "SM_ENTRY_SCRIPT": spec["entry_point"],
        "SM_INPUT_DATA_DIR": str(data_dir),
        "SM_OUTPUT_FAILURE": str(root / "output" / "failure"),
        "SM_LOG_LEVEL": 20,
        "SM_MASTER_ADDR": hosts[0],
        "SM_MASTER_PORT": master_port,
        "SM_HPS": hps,
        "SM_CHANNELS": channels,
    }
    for key, value in hps.items():
        values[f"SM_HP_{key.replace('-', '_').upper()}"] = value
    values["SM_TRAINING_ENV"] = {
        "channel_input_dirs": {c: str(data_dir / c) for c in channels},
        "current_host": host,
        "current_instance_type": spec["instance_type"],
        "hosts": hosts,
        "master_addr": hosts[0],
        "master_port": master_port,
        "hyperparameters": hps,
        "input_config_dir": str(root / "input" / "config"),
        "input_data_dir": str(data_dir),
        "input_dir": str(root / "input"),
        "job_name": spec["name"],
        "log_level": 20,
        "model_dir": str(root / "model"),
        "output_data_dir": str(root / "output" / "data"),
    }
    return {key: serialise(value) for key, value in values.items()}
