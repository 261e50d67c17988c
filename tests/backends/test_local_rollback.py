"""A failed local create undoes what it made, and only that (issue 11, bug 2).

A folder that already exists under the resource's name without a ledger row (left by a
ledger that was deleted, or copied there by hand) is not ours: the create must refuse,
say why, and leave that folder exactly as it was, for training jobs, transform jobs and
endpoints alike. Before the one create-and-roll-back helper, endpoints and transforms
deleted it on their way out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import make_spec, unique_name

from sm_magics.backends.local.endpoint_dir import EndpointDir
from sm_magics.backends.local.jobdir import JobDir
from sm_magics.backends.specs import EndpointSpec, TransformSpec, VariantSpec
from sm_magics.errors import AlreadyExists, InvalidRequest


def _foreign_folder(root: Path) -> Path:
    root.mkdir(parents=True)
    keep = root / "not-ours.txt"
    keep.write_text("someone else's work")
    return keep


def test_a_foreign_endpoint_folder_is_refused_and_left_alone(
    local_backend: Any, model_uri: str
) -> None:
    name = unique_name("ep")
    keep = _foreign_folder(EndpointDir.for_endpoint(name).root)
    spec = EndpointSpec(name=name, variants=[VariantSpec(model_data=model_uri)])
    with pytest.raises(InvalidRequest, match="exists but no ledger row") as caught:
        local_backend.create_endpoint(spec)
    assert not isinstance(caught.value, AlreadyExists)
    assert keep.read_text() == "someone else's work"
    assert local_backend.ledger.get_endpoint(name) is None


def test_a_foreign_transform_folder_is_refused_and_left_alone(
    local_backend: Any, model_uri: str, tmp_path: Path
) -> None:
    name = unique_name("tj")
    keep = _foreign_folder(JobDir.for_job(name).root)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("1,2\n")
    spec = TransformSpec(
        name=name,
        model=VariantSpec(model_data=model_uri),
        input_uri=str(tmp_path / "in"),
        output_uri=str(tmp_path / "out"),
    )
    with pytest.raises(InvalidRequest, match="exists but no ledger row"):
        local_backend.create_transform_job(spec)
    assert keep.read_text() == "someone else's work"
    assert local_backend.ledger.get_job(name) is None


def test_a_foreign_training_folder_is_refused_and_left_alone(local_backend: Any) -> None:
    spec = make_spec()
    keep = _foreign_folder(JobDir.for_job(spec.name).root)
    with pytest.raises(InvalidRequest, match="exists but no ledger row"):
        local_backend.create_training_job(spec)
    assert keep.read_text() == "someone else's work"
    assert local_backend.ledger.get_job(spec.name) is None


def test_a_name_taken_in_the_ledger_is_already_exists_and_its_folder_stays(
    local_backend: Any, model_uri: str, tmp_path: Path
) -> None:
    """A transform named as a running training job: the job's folder is not touched."""
    spec = make_spec(script="import time\ntime.sleep(30)\n")
    local_backend.create_training_job(spec)
    root = JobDir.for_job(spec.name).root
    before = sorted(p.name for p in root.iterdir())
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("1,2\n")
    with pytest.raises(AlreadyExists):
        local_backend.create_transform_job(
            TransformSpec(
                name=spec.name,
                model=VariantSpec(model_data=model_uri),
                input_uri=str(tmp_path / "in"),
                output_uri=str(tmp_path / "out"),
            )
        )
    assert sorted(p.name for p in root.iterdir()) == before
    assert local_backend.ledger.get_job(spec.name).kind == "training"
    local_backend.stop_training_job(spec.name)


def test_a_failure_after_the_reservation_undoes_row_and_folder(
    local_backend: Any, model_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the create made (row, folder) goes again when a later step fails."""
    from sm_magics.backends.local import processes

    def refuse(*_: object, **__: object) -> None:
        raise OSError("no more processes")

    monkeypatch.setattr(processes, "spawn_detached", refuse)
    name = unique_name("ep")
    spec = EndpointSpec(name=name, variants=[VariantSpec(model_data=model_uri)])
    with pytest.raises(OSError, match="no more processes"):
        local_backend.create_endpoint(spec)
    assert not EndpointDir.for_endpoint(name).root.exists()
    assert local_backend.ledger.get_endpoint(name) is None
