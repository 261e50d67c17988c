"""How a serving worker starts: in namespaces of its own where the kernel allows it.

SageMaker's inference containers load the model from ``/opt/ml/model``, and inference
scripts written for them often open that path directly in ``model_fn`` instead of using
the ``model_dir`` argument. On Linux a worker therefore runs under the
:mod:`.namespaces` launcher (no root): a private ``/opt`` whose ``ml/model`` is the
variant's extracted model folder, the model handed to ``model_fn`` as ``/opt/ml/model``,
exactly the container's view. Elsewhere (or with ``SM_MAGICS_NAMESPACES=0``) the worker
runs as before and, if the handler code names ``/opt/ml``, the worker's log says once
what will not work, in the words training hosts use.

The launcher execs the worker in its place, so the process the router started *is* the
worker: its pid, its signals and its exit code are the worker's.
"""

from __future__ import annotations

from pathlib import Path

from sm_magics.backends.local import host_launch, namespaces

#: The model folder inside the namespaces, as SageMaker's inference containers have it.
CONTAINER_MODEL_DIR = Path(namespaces.OPT_ML, "model")


class WorkerLauncher:
    """Decides once per router whether workers get namespaces; builds their commands."""

    def __init__(self) -> None:
        self.reason = host_launch.namespaces_reason()
        self.namespaced = self.reason is None
        self._noticed = False

    def model_dir(self, model_dir: Path) -> Path:
        """Return the model folder as the worker sees it (and passes to ``model_fn``)."""
        return CONTAINER_MODEL_DIR if self.namespaced else model_dir

    def command(self, worker: list[str], model_dir: Path, cwd: Path) -> list[str]:
        """Return ``worker`` (a full argv) wrapped by the namespace launcher when available."""
        if not self.namespaced:
            return worker
        return namespaces.wrap(
            worker, opt_ml=None, hostname=None, hosts=[], cwd=str(cwd), model=model_dir
        )

    def notice(self, code: Path | None, where: str = "endpoint") -> str | None:
        """Return the fallback line to log, once per router, if the handlers could notice.

        ``where`` names what the handlers run in (an endpoint, a transform job) in the line.
        """
        if self.namespaced or self._noticed or code is None:
            return None
        if not host_launch.mentions_opt_ml(code):
            return None
        self._noticed = True
        return host_launch.fallback_notice(
            str(self.reason),
            "hard-coded /opt/ml paths",
            where,
            "the model_dir argument of model_fn (and SM_MODEL_DIR) does",
        )
