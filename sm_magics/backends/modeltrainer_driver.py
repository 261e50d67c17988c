"""The SDK v3 ``ModelTrainer`` container conventions, in one file both backends run.

``%%sm_train --driver modeltrainer`` runs a script the way ``sagemaker.train.ModelTrainer``
does on SageMaker, where the image's own training toolkit is bypassed: the job's
``ContainerEntrypoint`` runs a small shell script from the ``sm_drivers`` channel, which
runs a Python driver, which sets the variables below and starts the entry script from the
``code`` channel with the hyperparameters as JSON-encoded ``--key value`` arguments.

This file is that driver, written for sm-magics (the SDK's own drivers are read to learn
the behaviour, not copied). It runs in two places, and that is why it is one file:

- on SageMaker it is uploaded in the ``sm_drivers`` channel and run by the image's
  Python (so: standard library only, Python 3.8 syntax, no ``sm_magics`` import);
- on the local backend :mod:`sm_magics.backends.local.drivers` imports it and calls
  :func:`environment` and :func:`cli_args` on the host's own config files, so what a
  script sees locally is what it sees on SageMaker (``tests/parity`` compares the two).

Variables (as the v3 drivers set them): ``SM_MODEL_DIR``, ``SM_INPUT_DIR``,
``SM_INPUT_DATA_DIR``, ``SM_INPUT_CONFIG_DIR``, ``SM_OUTPUT_DIR``, ``SM_OUTPUT_FAILURE``,
``SM_OUTPUT_DATA_DIR``, ``SM_LOG_LEVEL``, ``SM_MASTER_ADDR`` (the first host),
``SM_MASTER_PORT``, ``SM_SOURCE_DIR``, ``SM_ENTRY_SCRIPT``, ``SM_CHANNEL_<NAME>``,
``SM_CHANNELS``, ``SM_HP_<NAME>``, ``SM_HPS``, ``SM_CURRENT_HOST``,
``SM_CURRENT_INSTANCE_TYPE``, ``SM_HOSTS``, ``SM_NETWORK_INTERFACE_NAME``,
``SM_HOST_COUNT``, ``SM_CURRENT_HOST_RANK``, ``SM_NUM_CPUS``, ``SM_NUM_GPUS``,
``SM_NUM_NEURONS``, ``SM_RESOURCE_CONFIG``, ``SM_INPUT_DATA_CONFIG`` and
``SM_TRAINING_ENV``; each value a string, JSON-encoded unless it is a string.

Run as ``python driver.py [--root /opt/ml] [--dry-run]``; ``--dry-run`` prints the
command, working folder and variables as JSON instead of running the script.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # never at run time: the driver runs alone, on the image's Python
    from collections.abc import Mapping
    from typing import TypeAlias, TypedDict

    # sm_magics.json_types' alias, spelled out: this file imports nothing of sm_magics.
    JsonValue: TypeAlias = (
        "str | int | float | bool | list[JsonValue] | dict[str, JsonValue] | None"
    )

    class HostResourceConfig(TypedDict, total=False):
        """``resourceconfig.json``: the hosts of the job, and which one this is."""

        current_host: str
        hosts: list[str]
        current_instance_type: str
        network_interface_name: str


CODE_CHANNEL = "code"
DRIVERS_CHANNEL = "sm_drivers"
#: The channels the driver machinery adds; not the user's data, so not in ``SM_CHANNELS``.
DRIVER_CHANNELS = (CODE_CHANNEL, DRIVERS_CHANNEL)
#: What the v3 drivers use on SageMaker (the local backend gives each job a free port).
DEFAULT_MASTER_PORT = 7777
LOG_LEVEL = 20
SOURCE_CODE_JSON = "sourcecode.json"


def serialise(value: object) -> str:
    """Return ``value`` as the v3 conventions pass it: strings as they are, the rest JSON."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value)
    except TypeError:
        return str(value)


def deserialise(text: JsonValue) -> JsonValue:
    """Return the value a serialised hyperparameter stood for (the text if not JSON)."""
    if not isinstance(text, str):
        return text
    try:
        value: JsonValue = json.loads(text)
    except ValueError:
        return text
    return value


def cli_args(hyperparameters: Mapping[str, JsonValue]) -> list[str]:
    """Return ``--key value`` pairs in the given order, values through :func:`serialise`."""
    args: list[str] = []
    for key, value in hyperparameters.items():
        args += ["--" + key, serialise(deserialise(value))]
    return args


def environment(
    root: str,
    *,
    resource_config: HostResourceConfig,
    input_data_config: Mapping[str, JsonValue],
    hyperparameters: Mapping[str, JsonValue],
    entry_script: str,
    job_name: str,
    master_port: int = DEFAULT_MASTER_PORT,
    counts: dict[str, int] | None = None,
) -> dict[str, str]:
    """Return the variables of one host, every value a string.

    Parameters
    ----------
    root
        The host's ``/opt/ml`` (the real path on SageMaker; the host folder locally).
    resource_config, input_data_config, hyperparameters
        The contents of the host's ``input/config`` files; hyperparameter values are the
        serialised strings SageMaker writes, decoded with :func:`deserialise`.
    counts
        ``num_cpus``, ``num_gpus`` and ``num_neurons`` (detected when not given).
    """
    base = root.rstrip("/")
    data_dir = base + "/input/data"
    hosts = sorted(resource_config["hosts"])
    current = resource_config["current_host"]
    channels = sorted(c for c in input_data_config if c not in DRIVER_CHANNELS)
    data_config = {c: input_data_config[c] for c in channels}
    hps = {key: deserialise(value) for key, value in hyperparameters.items()}
    found = counts if counts is not None else detect_counts()
    values: dict[str, object] = {
        "SM_MODEL_DIR": base + "/model",
        "SM_INPUT_DIR": base + "/input",
        "SM_INPUT_DATA_DIR": data_dir,
        "SM_INPUT_CONFIG_DIR": base + "/input/config",
        "SM_OUTPUT_DIR": base + "/output",
        "SM_OUTPUT_FAILURE": base + "/output/failure",
        "SM_OUTPUT_DATA_DIR": base + "/output/data",
        "SM_LOG_LEVEL": LOG_LEVEL,
        "SM_MASTER_ADDR": hosts[0],
        "SM_MASTER_PORT": master_port,
        "SM_SOURCE_DIR": data_dir + "/" + CODE_CHANNEL,
        "SM_ENTRY_SCRIPT": entry_script,
    }
    for channel in channels:
        values["SM_CHANNEL_" + channel.upper()] = data_dir + "/" + channel
    values["SM_CHANNELS"] = channels
    for key, value in hps.items():
        values["SM_HP_" + key.replace("-", "_").upper()] = value
    values["SM_HPS"] = hps
    values.update(
        {
            "SM_CURRENT_HOST": current,
            "SM_CURRENT_INSTANCE_TYPE": resource_config.get("current_instance_type", ""),
            "SM_HOSTS": hosts,
            "SM_NETWORK_INTERFACE_NAME": resource_config.get("network_interface_name", ""),
            "SM_HOST_COUNT": len(hosts),
            "SM_CURRENT_HOST_RANK": hosts.index(current),
            "SM_NUM_CPUS": found["num_cpus"],
            "SM_NUM_GPUS": found["num_gpus"],
            "SM_NUM_NEURONS": found["num_neurons"],
            "SM_RESOURCE_CONFIG": resource_config,
            "SM_INPUT_DATA_CONFIG": data_config,
        }
    )
    values["SM_TRAINING_ENV"] = {
        "channel_input_dirs": {c: values["SM_CHANNEL_" + c.upper()] for c in channels},
        "current_host": current,
        "current_instance_type": values["SM_CURRENT_INSTANCE_TYPE"],
        "hosts": hosts,
        "master_addr": hosts[0],
        "master_port": master_port,
        "hyperparameters": hps,
        "input_data_config": data_config,
        "input_config_dir": values["SM_INPUT_CONFIG_DIR"],
        "input_data_dir": data_dir,
        "input_dir": values["SM_INPUT_DIR"],
        "job_name": job_name,
        "log_level": LOG_LEVEL,
        "model_dir": values["SM_MODEL_DIR"],
        "network_interface_name": values["SM_NETWORK_INTERFACE_NAME"],
        "num_cpus": found["num_cpus"],
        "num_gpus": found["num_gpus"],
        "num_neurons": found["num_neurons"],
        "output_data_dir": values["SM_OUTPUT_DATA_DIR"],
        "resource_config": resource_config,
    }
    return {key: serialise(value) for key, value in values.items()}


def detect_counts() -> dict[str, int]:
    """Count this machine's CPUs, GPUs (``nvidia-smi``) and Neuron cores (``neuron-ls``)."""
    gpus = neurons = 0
    if shutil.which("nvidia-smi"):
        try:
            listing = subprocess.run(
                ["nvidia-smi", "--list-gpus"], capture_output=True, text=True, timeout=30
            ).stdout
            gpus = sum(1 for line in listing.splitlines() if line.startswith("GPU "))
        except (OSError, subprocess.SubprocessError):
            gpus = 0
    if shutil.which("neuron-ls"):
        try:
            listing = subprocess.run(
                ["neuron-ls", "-j"], capture_output=True, text=True, timeout=30
            ).stdout
            neurons = sum(int(item.get("nc_count", 0)) for item in json.loads(listing))
        except (OSError, ValueError, subprocess.SubprocessError, AttributeError):
            neurons = 0
    return {"num_cpus": os.cpu_count() or 1, "num_gpus": gpus, "num_neurons": neurons}


def read_json(path: Path) -> Any:
    """Return the JSON in ``path``, or ``{}`` when it does not exist."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}


def plan(root: Path) -> tuple[list[str], Path, dict[str, str]]:
    """Return ``(command, working folder, variables)`` of this host, from its files."""
    config = root / "input" / "config"
    source = read_json(root / "input" / "data" / DRIVERS_CHANNEL / SOURCE_CODE_JSON)
    entry = str(source.get("entry_script") or "")
    hyperparameters = read_json(config / "hyperparameters.json")
    variables = environment(
        str(root),
        resource_config=read_json(config / "resourceconfig.json"),
        input_data_config=read_json(config / "inputdataconfig.json"),
        hyperparameters=hyperparameters,
        entry_script=entry,
        job_name=os.environ.get("TRAINING_JOB_NAME", ""),
    )
    # Sorted by name: the order SageMaker's hyperparameters.json keeps is not promised,
    # and the local backend passes them sorted (as its API's map arrives).
    args = cli_args(dict(sorted(hyperparameters.items())))
    runner = "/bin/sh" if entry.endswith(".sh") else sys.executable
    command = [runner, entry, *args]
    return command, root / "input" / "data" / CODE_CHANNEL, variables


def _fail(root: Path, message: str) -> None:
    """Write ``message`` to the failure file SageMaker reports, unless the script did."""
    failure = root / "output" / "failure"
    try:
        if not failure.exists() or failure.stat().st_size == 0:
            failure.parent.mkdir(parents=True, exist_ok=True)
            failure.write_text(message)
    except OSError:
        pass


def run(root: Path) -> int:
    """Install the code's ``requirements.txt``, run the entry script, pass signals on."""
    command, cwd, variables = plan(root)
    requirements = cwd / "requirements.txt"
    if requirements.is_file():
        print("sm-magics driver: installing " + str(requirements), flush=True)
        pip = [sys.executable, "-m", "pip", "install", "-r", str(requirements)]
        if subprocess.run(pip, cwd=str(cwd)).returncode != 0:
            _fail(root, "pip could not install " + str(requirements))
            return 1
    print("sm-magics driver: running " + " ".join(command), flush=True)
    child = subprocess.Popen(command, cwd=str(cwd), env={**os.environ, **variables})

    def forward(signum: int, _frame: object) -> None:
        # SageMaker's StopTrainingJob signals the container's first process (us): the
        # script must get it to save its model in the grace period.
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = child.wait()
    if code != 0:
        _fail(root, "The entry script exited with code " + str(code) + ": see the job's log.")
    return 0 if code == 0 else (code if code > 0 else 128 - code)


def main(argv: list[str] | None = None) -> int:
    """Entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description="sm-magics ModelTrainer-style driver")
    parser.add_argument("--root", type=Path, default=Path("/opt/ml"))
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    if args.dry_run:
        command, cwd, variables = plan(args.root)
        print(json.dumps({"command": command, "cwd": str(cwd), "env": variables}))
        return 0
    return run(args.root)


if __name__ == "__main__":
    sys.exit(main())
