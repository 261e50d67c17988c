"""The folder of one local endpoint: its config, its state, its models and logs.

Layout (``SM_MAGICS_HOME/endpoints/<name>/``)::

    config.json        the desired variants (written by the kernel; SIGHUP re-reads it)
    state.json         status, URL, live variants and statistics (written by the router)
    models/<variant>-<key>/  each variant's model.tar.gz, extracted (SageMaker's
                       /opt/ml/model); the key names the archive
    logs/<variant>-<worker>-<epoch>.log   one stream per worker
    router.log         the router's own stdout/stderr

A deleted endpoint's folder is moved to ``endpoints/.deleted/<name>-<time>/``: its logs
stay readable, and the name is free again, as on SageMaker.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sm_magics import config
from sm_magics.backends.local.jobdir import StateFolder, read_json, write_json_atomic


def endpoints_root() -> Path:
    """Return the folder holding every local endpoint's folder."""
    return config.home_dir() / "endpoints"


@dataclass(frozen=True)
class EndpointDir(StateFolder):
    """Paths inside one endpoint folder (see the module docstring)."""

    @classmethod
    def for_endpoint(cls, name: str) -> EndpointDir:
        """Return the live folder of endpoint ``name`` under the current home."""
        return cls(endpoints_root() / name)

    @property
    def config_file(self) -> Path:
        """The desired configuration."""
        return self.root / "config.json"

    @property
    def models(self) -> Path:
        """Extracted models, one folder per variant."""
        return self.root / "models"

    @property
    def logs(self) -> Path:
        """One log file per worker."""
        return self.root / "logs"

    @property
    def router_log(self) -> Path:
        """The router's own output."""
        return self.root / "router.log"

    def read_config(self) -> dict[str, Any]:
        """Return the desired configuration."""
        return read_json(self.config_file)

    def write_config(self, data: dict[str, Any]) -> None:
        """Replace the desired configuration atomically."""
        write_json_atomic(self.config_file, data)

    def last_invoked_at(self) -> float | None:
        """Return when the router last answered a request (Unix seconds), if it ever did.

        The router records it with its statistics, about once a second, so the value can
        lag by that much; the side panel uses it to flag endpoints nobody calls any more.
        """
        try:
            value = self.read_state().get("last_invoked_at")
        except (OSError, ValueError):
            return None
        return float(value) if isinstance(value, (int, float)) else None

    def archive(self) -> Path:
        """Move the folder out of the way of a new endpoint of the same name."""
        target = endpoints_root() / ".deleted" / f"{self.name}-{int(time.time() * 1000)}"
        target.parent.mkdir(parents=True, exist_ok=True)
        self.root.rename(target)
        return target
