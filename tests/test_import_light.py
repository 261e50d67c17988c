"""Loading the extension stays light: checked in fresh interpreters, whose ``sys.modules``
is not shared with the test session."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

HEAVY = ("boto3", "botocore", "sagemaker", "ipywidgets")


def run_fresh(code: str) -> dict[str, object]:
    """Run ``code`` in a new interpreter; it prints one JSON document as its last line."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_load_ext_imports_nothing_heavy(sm_home: Path) -> None:
    report = run_fresh(
        f"""
        import json, sys
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        before = {{m for m in {HEAVY!r} if m in sys.modules}}
        shell.run_line_magic("load_ext", "sm_magics")
        loaded = {{m for m in {HEAVY!r} if m in sys.modules}}
        magics = shell.magics_manager.magics
        table = shell.run_line_magic("sm_jobs", "")
        after_listing = {{m for m in {HEAVY!r} if m in sys.modules}}
        print(json.dumps({{
            "before": sorted(before),
            "loaded": sorted(loaded),
            "after_listing": sorted(after_listing),
            "cell": sorted(m for m in magics["cell"] if m.startswith("sm_")),
            "line": sorted(m for m in magics["line"] if m.startswith("sm_")),
            "table": repr(table),
        }}))
        """
    )
    assert report["before"] == []  # a heavy module IPython itself imported would void the test
    assert report["loaded"] == []
    assert report["after_listing"] == []
    assert "sm_train" in report["cell"]
    assert {"sm_train", "sm_jobs", "sm_logs", "sm_wait", "sm_stop"} <= set(report["line"])
    assert report["table"] == "No jobs yet."


def test_import_sm_magics_imports_no_ipython() -> None:
    report = run_fresh(
        f"""
        import json, sys
        import sm_magics
        version = sm_magics.__version__
        names = sorted(m for m in sys.modules
                       if m.split(".")[0] in ("IPython", "traitlets", *{HEAVY!r}))
        print(json.dumps({{"version": version, "modules": names}}))
        """
    )
    assert report["modules"] == []
    assert report["version"]


def test_public_names_load_on_first_use() -> None:
    report = run_fresh(
        """
        import json, sys
        import sm_magics
        api_before = "sm_magics.api" in sys.modules
        session_cls = sm_magics.Session
        job_cls = sm_magics.Job
        try:
            sm_magics.no_such_name
        except AttributeError as exc:
            missing = str(exc)
        else:
            missing = None
        print(json.dumps({
            "api_before": api_before,
            "session": session_cls.__module__ + "." + session_cls.__name__,
            "job": job_cls.__module__ + "." + job_cls.__name__,
            "missing": missing,
            "ipython": "IPython" in sys.modules,
        }))
        """
    )
    assert report["api_before"] is False
    assert report["session"] == "sm_magics.api.session.Session"
    assert report["job"] == "sm_magics.api.job.Job"
    assert report["missing"] is not None and "no_such_name" in report["missing"]
    assert report["ipython"] is False
