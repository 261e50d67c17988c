"""Issue 12 defect 11, endpoints: ``--env`` values of a variant stay out of the ledger.

The ledger keeps the names (``(set)``); the A/B update, which redeploys the variants the
endpoint already has, reads their values from the backend (the endpoint folder's config,
mode 0600), so the first variant keeps working after a second one is added.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import helpers
import pytest

from sm_magics.api import Session
from sm_magics.ledger_records import REDACTED

WAIT = 120.0  # only against hangs
SECRET = "s3cr3t-" + uuid.uuid4().hex  # a value found nowhere else
HANDLER = (
    helpers.MODEL_FN
    + """

def predict_fn(data, model):
    return [os.environ.get("API_TOKEN", "unset"), os.environ.get("SM_MAGICS_NOTE", "")]
"""
)


@pytest.fixture
def session(sm_home: Path) -> Iterator[Session]:
    """A session on the test's home; every endpoint it still has is deleted at the end."""
    yield from helpers.session_deleting_endpoints()


def _ledger_bytes(session: Session) -> bytes:
    """Everything the ledger holds on disk: the file and its WAL."""
    files = session.ledger.path.parent.glob(session.ledger.path.name + "*")
    return b"".join(path.read_bytes() for path in sorted(files))


def _script(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "serve.py"
    path.write_text(HANDLER)
    return path


def test_env_values_stay_out_of_the_ledger_and_an_added_variant_keeps_the_first_working(
    session: Session, model_uri: str, tmp_path: Path
) -> None:
    name = f"ep-{uuid.uuid4().hex[:10]}"
    environment = {"API_TOKEN": SECRET, "SM_MAGICS_NOTE": "kept"}
    endpoint = session.deploy(
        model_uri, endpoint=name, entry_point=_script(tmp_path / "a"), environment=environment
    )
    endpoint.wait(WAIT, poll=0.05)
    assert endpoint.invoke([[3, 3]]) == [SECRET, "kept"]
    record = session.ledger.get_endpoint(name)
    assert record is not None
    # Names only; sm-magics' own SM_MAGICS_* settings are not secrets and are kept.
    assert record.spec["variants"][0]["environment"] == {
        "API_TOKEN": REDACTED,
        "SM_MAGICS_NOTE": "kept",
    }
    assert SECRET.encode() not in _ledger_bytes(session)

    # Adding a variant redeploys AllTraffic: its value comes from the backend, not the ledger.
    session.deploy(
        model_uri, endpoint=name, variants={"b": 0.5}, entry_point=_script(tmp_path / "b")
    )
    helpers.wait_until(
        lambda: (
            sorted(v["VariantName"] for v in endpoint.describe()["ProductionVariants"])
            == ["AllTraffic", "b"]
            and endpoint.describe()["EndpointStatus"] == "InService"
        ),
        WAIT,
        what="variant b",
    )
    assert endpoint.invoke([[3, 3]], variant="AllTraffic") == [SECRET, "kept"]
    assert endpoint.invoke([[3, 3]], variant="b") == ["unset", ""]
    # Weights only: the same, and still nothing in the ledger.
    session.deploy(endpoint=name, variants={"AllTraffic": 1.0, "b": 0.0})
    helpers.wait_until(
        lambda: all(
            v["CurrentWeight"] == v["DesiredWeight"]
            for v in endpoint.describe()["ProductionVariants"]
        ),
        WAIT,
        what="the new weights",
    )
    assert endpoint.invoke([[3, 3]], variant="AllTraffic") == [SECRET, "kept"]
    assert SECRET.encode() not in _ledger_bytes(session)
    assert session.backend("local").variant_environments(name)["AllTraffic"]["API_TOKEN"] == SECRET
