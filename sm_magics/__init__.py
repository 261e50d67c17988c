"""sm-magics: train and serve on Amazon SageMaker from a notebook, or locally without Docker.

Load the magics with ``%load_ext sm_magics``. Importing this package is cheap: it imports
neither boto3 nor the SageMaker SDK, nor even IPython; everything heavier is imported
when first used.
"""

from __future__ import annotations

# Not ``typing``: a job's starter imports this package before its hosts run (the first
# line waits for it), and the names below are only needed by type checkers.
TYPE_CHECKING = False

__version__ = "0.1.0"
__all__ = ["Job", "Session", "__version__", "load_ipython_extension"]

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from sm_magics.api import Job, Session


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """Register the ``%sm_*`` magics; called by ``%load_ext sm_magics``.

    Also arranges for a reminder, when the kernel exits, of the endpoints this notebook
    leaves billing (:mod:`sm_magics.reminders`), for the backends' notices
    (:class:`~sm_magics.errors.SmMagicsNotice`) to show as plain ``sm-magics:`` lines, and
    for the first local job's path to be warmed up in the background (:mod:`.warm_up`).
    """
    from sm_magics import reminders, warm_up
    from sm_magics.errors import show_notices_plainly
    from sm_magics.job_magics import JobMagics
    from sm_magics.magics import SageMakerMagics
    from sm_magics.mlops_magics import MLOpsMagics
    from sm_magics.processing_magics import ProcessingMagics
    from sm_magics.serving_magics import ServingMagics
    from sm_magics.tuning_magics import TuningMagics

    core = SageMakerMagics(shell=ipython)
    ipython.register_magics(core)
    ipython.register_magics(JobMagics(shell=ipython, core=core))
    ipython.register_magics(ServingMagics(shell=ipython, core=core))
    ipython.register_magics(TuningMagics(shell=ipython, core=core))
    ipython.register_magics(MLOpsMagics(shell=ipython, core=core))
    ipython.register_magics(ProcessingMagics(shell=ipython, core=core))
    reminders.install(core)
    show_notices_plainly()
    warm_up.start(core)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """Tell Jupyter where the server extension (the side panel's REST API) is.

    Only a name: Jupyter imports :mod:`sm_magics.server` (and tornado with it) when it
    loads the extension, so ``%load_ext sm_magics`` in a kernel never does.
    """
    return [{"module": "sm_magics.server"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Tell ``jupyter labextension develop`` where the built side panel is.

    pip installs don't need it (hatch's shared-data copies the build into
    ``share/jupyter/labextensions/sm-magics``); a development checkout linked into JupyterLab does.
    """
    return [{"src": "labextension", "dest": "sm-magics"}]


def __getattr__(name: str) -> type[Job] | type[Session]:
    # The Python API is imported on first use, so `import sm_magics` stays instant.
    if name in ("Job", "Session"):
        from sm_magics import api

        return api.Job if name == "Job" else api.Session
    raise AttributeError(f"module 'sm_magics' has no attribute {name!r}")
