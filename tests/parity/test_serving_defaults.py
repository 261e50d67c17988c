"""The framework containers' serving defaults, as in-process handler calls.

Ported from what the SageMaker inference toolkit's unit tests check (decoder, encoder,
transformer, default handler) and from the XGBoost and PyTorch containers' handlers:
every content type x accept pair each framework's defaults answer, the ones they refuse
(415 for a body, 406 for an Accept header), and the handler selection rules (a script's
own handler wins; transform_fn excludes the others; model_fn falls back to the
container's default only where the container has one).
"""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from sm_magics.backends.local import inference, recordio, serving_defaults
from sm_magics.backends.local.serving_defaults import choose, framework_of_model

xgb = pytest.importorskip("xgboost")
torch = pytest.importorskip("torch")

ROWS = [[1.0, 2.0], [3.0, 4.0]]
BODIES = {
    "application/json": json.dumps(ROWS).encode(),
    "text/csv": b"1,2\n3,4",
    "application/x-npy": (lambda b: (np.save(b, np.array(ROWS)), b.getvalue())[1])(io.BytesIO()),
    "text/libsvm": b"0 0:1 1:2\n0 0:3 1:4\n",
    "application/x-recordio-protobuf": recordio.write_dense(ROWS),
}
ACCEPTS = ["application/json", "text/csv", "application/x-npy", "*/*", ""]


def decode_answer(body: bytes, content_type: str) -> list[float]:
    """Return the flat list of numbers of an answer in any of the three encodings."""
    if content_type == "application/json":
        return list(np.ravel(json.loads(body)))
    if content_type == "text/csv":
        return [float(x) for x in body.decode().replace("\n", ",").split(",") if x]
    return list(np.ravel(np.load(io.BytesIO(body))))


# -- XGBoost ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def booster_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder with a booster saved as ``xgboost-model`` (y = x0 + x1)."""
    folder = tmp_path_factory.mktemp("xgb")
    features = np.array([[a, b] for a in range(5) for b in range(5)], dtype=float)
    data = xgb.DMatrix(features, label=features.sum(axis=1))
    booster = xgb.train({"max_depth": 3}, data, num_boost_round=5)
    (folder / "xgboost-model").write_bytes(booster.save_raw("json"))
    return folder


@pytest.mark.parametrize(
    "content_type", ["text/csv", "text/libsvm", "text/x-libsvm", "application/x-recordio-protobuf"]
)
@pytest.mark.parametrize("accept", ACCEPTS)
def test_xgboost_defaults_answer_every_supported_pair(
    booster_dir: Path, content_type: str, accept: str
) -> None:
    handlers = inference.load_handlers(None, serving_defaults.defaults_for("xgboost"))
    model = inference.load_model(handlers, booster_dir)
    body = BODIES["text/libsvm" if "libsvm" in content_type else content_type]
    answer, answered_as = handlers.invoke(model, body, content_type, accept)
    assert answered_as == (
        accept if accept.count("/") and "*" not in accept else "application/json"
    )
    expected = model.predict(xgb.DMatrix(np.array(ROWS)))
    assert decode_answer(answer, answered_as) == pytest.approx(list(expected), rel=1e-6)


@pytest.mark.parametrize("content_type", ["application/json", "application/x-npy", "text/plain"])
def test_xgboost_defaults_refuse_what_the_container_refuses(
    booster_dir: Path, content_type: str
) -> None:
    handlers = inference.load_handlers(None, serving_defaults.defaults_for("xgboost"))
    model = inference.load_model(handlers, booster_dir)
    with pytest.raises(inference.UnsupportedContentType, match="XGBoost container"):
        handlers.invoke(model, BODIES.get(content_type, b"x"), content_type, "")


def test_xgboost_csv_sniffs_the_delimiter_and_reads_empty_cells_as_missing(
    booster_dir: Path,
) -> None:
    dmatrix = serving_defaults.defaults_for("xgboost").input_fn(b"1\t\n3\t4", "text/csv")
    assert dmatrix.num_row() == 2 and dmatrix.num_col() == 2


def test_xgboost_default_model_fn_loads_a_pickled_booster_and_names_what_it_wanted(
    booster_dir: Path, tmp_path: Path
) -> None:
    booster = xgb.Booster()
    booster.load_model(bytearray((booster_dir / "xgboost-model").read_bytes()))
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(booster))
    loaded = serving_defaults.defaults_for("xgboost").model_fn(str(tmp_path))  # type: ignore[misc]
    assert isinstance(loaded, xgb.Booster)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="xgboost-model"):
        serving_defaults.defaults_for("xgboost").model_fn(str(empty))  # type: ignore[misc]


# -- PyTorch ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def torchscript_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder with a TorchScript ``model.pt`` computing the row sums."""
    folder = tmp_path_factory.mktemp("pt")

    class Sum(torch.nn.Module):  # type: ignore[misc]
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.sum(dim=1, keepdim=True)

    torch.jit.script(Sum()).save(str(folder / "model.pt"))
    return folder


@pytest.mark.parametrize("content_type", ["application/json", "text/csv", "application/x-npy"])
@pytest.mark.parametrize("accept", [*ACCEPTS, "text/html, application/x-npy;q=0.5"])
def test_pytorch_defaults_answer_every_supported_pair(
    torchscript_dir: Path, content_type: str, accept: str
) -> None:
    handlers = inference.load_handlers(None, serving_defaults.defaults_for("pytorch"))
    model = inference.load_model(handlers, torchscript_dir)
    answer, answered_as = handlers.invoke(model, BODIES[content_type], content_type, accept)
    expected_type = {"*/*": "application/json", "": "application/json"}.get(accept, accept)
    if "," in accept:
        expected_type = "application/x-npy"
    assert answered_as == expected_type
    assert decode_answer(answer, answered_as) == pytest.approx([3.0, 7.0])


def test_pytorch_text_bodies_become_float32_and_npy_keeps_its_dtype() -> None:
    defaults = serving_defaults.defaults_for("pytorch")
    assert defaults.input_fn(b"[[1, 2]]", "application/json").dtype == torch.float32
    buffer = io.BytesIO()
    np.save(buffer, np.array([[1, 2]], dtype=np.int64))
    assert defaults.input_fn(buffer.getvalue(), "application/x-npy").dtype == torch.int64


def test_pytorch_predict_runs_in_eval_mode_without_gradients() -> None:
    seen: dict[str, bool] = {}

    class Probe(torch.nn.Module):  # type: ignore[misc]
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen["training"] = self.training
            seen["grad"] = torch.is_grad_enabled()
            return x

    serving_defaults.defaults_for("pytorch").predict_fn(torch.ones(1, 2), Probe().train())
    assert seen == {"training": False, "grad": False}


def test_pytorch_default_model_fn_wants_model_pt(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"model\.pt"):
        serving_defaults.defaults_for("pytorch").model_fn(str(tmp_path))  # type: ignore[misc]


# -- every framework: refused types and selection rules -----------------------------------


@pytest.mark.parametrize("framework", ["sklearn", "xgboost", "pytorch"])
def test_an_accept_no_default_encoder_answers_is_not_acceptable(
    framework: str, booster_dir: Path, torchscript_dir: Path, tmp_path: Path
) -> None:
    defaults = serving_defaults.defaults_for(framework)
    with pytest.raises(inference.NotAcceptable):
        defaults.output_fn(np.array([1.0]), "text/html")


def test_a_script_handler_wins_over_the_framework_default(
    torchscript_dir: Path, tmp_path: Path
) -> None:
    script = tmp_path / "inference.py"
    script.write_text("def output_fn(prediction, accept):\n    return 'mine', 'text/plain'\n")
    handlers = inference.load_handlers(script, serving_defaults.defaults_for("pytorch"))
    model = inference.load_model(handlers, torchscript_dir)
    assert handlers.invoke(model, b"[[1, 2]]", "application/json", "") == (b"mine", "text/plain")


def test_transform_fn_with_input_fn_is_refused_and_sklearn_has_no_default_model_fn(
    tmp_path: Path,
) -> None:
    both = tmp_path / "both.py"
    both.write_text("def transform_fn(*a):\n    pass\n\ndef input_fn(*a):\n    pass\n")
    with pytest.raises(inference.LoadError, match="not both"):
        inference.load_handlers(both, serving_defaults.defaults_for("xgboost"))
    with pytest.raises(inference.LoadError, match="sklearn container has no default model_fn"):
        inference.load_handlers(None, serving_defaults.defaults_for("sklearn"))


def test_the_choice_order_is_flag_then_job_then_model_files(
    torchscript_dir: Path, booster_dir: Path, tmp_path: Path
) -> None:
    flag = {serving_defaults.FRAMEWORK_ENV: "XGBoost"}
    assert choose(flag, {"framework": "pytorch"}, torchscript_dir) == ("xgboost", "--framework")
    assert choose({}, {"framework": "pytorch"}, booster_dir)[0] == "pytorch"
    image = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1-cpu-py310"
    assert choose({}, {"image": image}, booster_dir) == ("pytorch", "the training job's image")
    assert choose(None, None, torchscript_dir) == ("pytorch", "the files in model.tar.gz")
    assert choose(None, None, booster_dir) == ("xgboost", "the files in model.tar.gz")
    assert choose(None, None, tmp_path) == ("sklearn", "the default container")
    assert framework_of_model(tmp_path / "missing") is None


def test_recordio_protobuf_round_trips_dense_rows() -> None:
    assert recordio.read_dense(recordio.write_dense(ROWS)).tolist() == ROWS
    with pytest.raises(ValueError, match="RecordIO"):
        recordio.read_dense(b"\x00" * 8)


def test_a_training_script_without_handlers_is_not_imported_by_serving(tmp_path: Path) -> None:
    training = tmp_path / "train.py"
    training.write_text("raise SystemExit('training code must not run in the worker')\n")
    assert inference.find_entry_point([training], required=False) is None
    handlers = tmp_path / "inference.py"
    handlers.write_text("def output_fn(prediction, accept):\n    return b''\n")
    assert inference.find_entry_point([training, handlers], required=False) == handlers
