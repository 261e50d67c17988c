"""The SageMaker training container's environment, computed for one local host.

What a script-mode script can read on SageMaker, it reads here with the same values in
the same format: the three config JSON files, every ``SM_*`` variable the SageMaker
training toolkit sets (``sagemaker_training.environment.Environment.to_env_vars``), and
the hyperparameters again as ``--key value`` arguments. Formats follow the toolkit's
``mapping`` module: strings as they are, anything else as compact sorted JSON; argument
values through ``str()`` and dicts as ``k=v,k=v``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sm_magics.backends.local.jobdir import JobDir
from sm_magics.backends.modeltrainer_driver import serialise

LOG_LEVEL = 20  # logging.INFO, the toolkit's default
NETWORK_INTERFACE = "eth0"
INSTANCE_GROUP = "homogeneousCluster"


def host_names(count: int) -> list[str]:
    """Return ``["algo-1", ..., "algo-N"]``, sorted as SageMaker sorts them."""
    return [f"algo-{i}" for i in range(1, count + 1)]


def _env_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _arg_value(value: object) -> str:
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in sorted(value.items()))
    return "" if value is None else str(value)


def cli_args(hyperparameters: Mapping[str, object]) -> list[str]:
    """Return hyperparameters as the toolkit passes them: sorted ``--key value`` pairs."""
    args: list[str] = []
    for key in sorted(hyperparameters):
        args.append(f"--{key}" if len(key) > 1 else f"-{key}")
        args.append(_arg_value(hyperparameters[key]))
    return args


def encode_hyperparameters(hyperparameters: Mapping[str, object]) -> dict[str, str]:
    r"""Return hyperparameters as the SDK sends them to the framework containers.

    ``CreateTrainingJob`` takes a string map; the SDK JSON-encodes each value (so ``50``
    becomes ``"50"`` and ``"gini"`` becomes ``"\\"gini\\""``) and the container decodes them.
    """
    return {key: json.dumps(value) for key, value in hyperparameters.items()}


def resource_config(host: str, hosts: list[str], instance_type: str) -> dict[str, Any]:
    """Return ``resourceconfig.json`` for one host."""
    return {
        "current_host": host,
        "current_instance_type": instance_type,
        "current_group_name": INSTANCE_GROUP,
        "hosts": hosts,
        "instance_groups": [
            {"instance_group_name": INSTANCE_GROUP, "instance_type": instance_type, "hosts": hosts}
        ],
        "network_interface_name": NETWORK_INTERFACE,
    }


def input_data_config(channels: dict[str, str]) -> dict[str, dict[str, str]]:
    """Return ``inputdataconfig.json``: every channel in File mode, fully replicated."""
    return {
        name: {
            "TrainingInputMode": "File",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
        }
        for name in sorted(channels)
    }


def link_channels(job: JobDir, resolved: dict[str, str]) -> None:
    """Link each input channel into ``input/data/`` ("Downloading"); links already there stay.

    A single file goes inside its channel folder, where SageMaker puts the object.
    """
    job.input_data.mkdir(parents=True, exist_ok=True)
    for channel, source in sorted(resolved.items()):
        target = job.input_data / channel
        if target.exists() or target.is_symlink():
            continue
        path = Path(source)
        if path.is_dir():
            target.symlink_to(path, target_is_directory=True)
        else:
            target.mkdir()
            (target / path.name).symlink_to(path)


def write_host_config(
    job: JobDir,
    host: str,
    hosts: list[str],
    spec: dict[str, Any],
) -> None:
    """Create one host's ``/opt/ml`` skeleton and write its three config files.

    Hosts after the first share ``code/`` and ``input/data/`` with ``algo-1`` (read-only
    on SageMaker too) but get their own ``model/`` and ``output/``, as separate instances do.
    """
    root = job.host_root(host)
    config_dir = root / "input" / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    for sub in ("model", "output/data", "output/intermediate", "checkpoints"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    if host != "algo-1":
        data_link = root / "input" / "data"
        if not data_link.exists():
            data_link.symlink_to(job.input_data, target_is_directory=True)
    hyperparameters = encode_hyperparameters(spec["hyperparameters"])
    toolkit = {
        "sagemaker_program": json.dumps(spec["entry_point"]),
        "sagemaker_submit_directory": json.dumps(job.code.as_uri()),
        "sagemaker_container_log_level": str(LOG_LEVEL),
        "sagemaker_job_name": json.dumps(spec["name"]),
        "sagemaker_region": json.dumps(spec.get("region") or ""),
    }
    hyperparameters.update(toolkit)
    if spec.get("driver") == "modeltrainer":
        # What SageMaker writes for a ModelTrainer job: its values, serialised its way.
        hyperparameters = {k: serialise(v) for k, v in spec["hyperparameters"].items()}
    files = {
        "hyperparameters.json": hyperparameters,
        "resourceconfig.json": resource_config(host, hosts, spec["instance_type"]),
        "inputdataconfig.json": input_data_config(spec["inputs"]),
    }
    for filename, content in files.items():
        (config_dir / filename).write_text(json.dumps(content, indent=1, sort_keys=True))


def training_env(
    job: JobDir,
    host: str,
    hosts: list[str],
    spec: dict[str, Any],
    *,
    base_env: dict[str, str] | None = None,
) -> dict[str, str]:
    """Return the full process environment of one host's training script.

    ``base_env`` (default: this process's environment) is kept, so ``PATH``, ``HOME`` and
    the user's own variables behave as in the notebook; ``--env`` values come last and win.
    """
    root = job.host_root(host)
    input_dir = root / "input"
    output_dir = root / "output"
    hps: dict[str, Any] = spec["hyperparameters"]
    # Each host reads its channels under its own /opt/ml (hosts 2..N link to algo-1's data).
    channels = {name: str(input_dir / "data" / name) for name in sorted(spec["inputs"])}
    entry_point: str = spec["entry_point"]
    module_name = entry_point[:-3] if entry_point.endswith(".py") else entry_point
    rc = resource_config(host, hosts, spec["instance_type"])
    values: dict[str, Any] = {
        "hosts": hosts,
        "network_interface_name": NETWORK_INTERFACE,
        "hps": hps,
        "user_entry_point": entry_point,
        "framework_params": {},
        "resource_config": rc,
        "input_data_config": input_data_config(spec["inputs"]),
        "output_data_dir": str(output_dir / "data"),
        "channels": sorted(channels),
        "current_host": host,
        "current_instance_type": spec["instance_type"],
        "current_instance_group": INSTANCE_GROUP,
        "current_instance_group_hosts": hosts,
        "instance_groups": [INSTANCE_GROUP],
        "instance_groups_dict": {
            INSTANCE_GROUP: rc["instance_groups"][0],
        },
        "distribution_instance_groups": [],
        "is_hetero": False,
        "module_name": module_name,
        "log_level": LOG_LEVEL,
        "framework_module": None,
        "input_dir": str(input_dir),
        "input_config_dir": str(input_dir / "config"),
        "output_dir": str(output_dir),
        "num_cpus": os.cpu_count() or 1,
        "num_gpus": 0,
        "num_neurons": 0,
        "model_dir": str(root / "model"),
        # The toolkit's module_dir is sagemaker_submit_directory as given (an s3:// URI of
        # sourcedir.tar.gz on SageMaker); scripts read code from their working directory.
        "module_dir": job.code.as_uri(),
        "user_args": cli_args(hps),
        "output_intermediate_dir": str(output_dir / "intermediate"),
    }
    # SM_TRAINING_ENV is the toolkit's Environment as a dict: the same keys, without the
    # per-channel and per-hyperparameter expansions, plus the job name.
    # Per-property names where to_env_vars renames them (hps, framework_params, channels).
    renamed = {"user_args", "hps", "framework_params", "channels"}
    values["training_env"] = {
        **{k: v for k, v in values.items() if k not in renamed},
        "job_name": spec["name"],
        "hyperparameters": hps,
        "channel_input_dirs": channels,
        "additional_framework_parameters": {},
        "distribution_hosts": [],
        "is_master": host == hosts[0],
        "master_hostname": hosts[0],
        "is_modelparallel_enabled": None,
        "is_smddpmprun_installed": False,
        "is_smddprun_installed": False,
        "topology": [],
    }
    for name, path in channels.items():
        values[f"channel_{name}"] = path
    for key, value in hps.items():
        values[f"hp_{key}"] = value

    env = dict(os.environ if base_env is None else base_env)
    env.update({f"SM_{key.upper()}": _env_value(value) for key, value in values.items()})
    python_path = [str(job.code)]
    if env.get("PYTHONPATH"):
        python_path.append(env["PYTHONPATH"])
    env.update(
        {
            "SAGEMAKER_BASE_DIR": str(root),
            "SAGEMAKER_PROGRAM": entry_point,
            "SAGEMAKER_SUBMIT_DIRECTORY": str(job.code),
            "SAGEMAKER_REGION": spec.get("region") or "",
            "TRAINING_JOB_NAME": spec["name"],
            "TRAINING_JOB_ARN": f"arn:aws:sagemaker:local:000000000000:training-job/{spec['name']}",
            "PYTHONUNBUFFERED": "1",  # lines reach the log as they are printed
            "PYTHONPATH": os.pathsep.join(python_path),
        }
    )
    env.update(spec.get("environment") or {})
    return env


def model_dirs(job: JobDir, hosts: list[str]) -> list[Path]:
    """Return every host's model folder, ``algo-1`` first (it wins on name clashes)."""
    return [job.host_root(host) / "model" for host in hosts]


def output_data_dirs(job: JobDir, hosts: list[str]) -> list[Path]:
    """Return every host's ``output/data`` folder, ``algo-1`` first."""
    return [job.host_root(host) / "output" / "data" for host in hosts]
