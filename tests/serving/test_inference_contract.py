"""The SageMaker inference contract, in process: handler resolution and the default codecs.

No endpoint and no process here: the tests import handler scripts with
``inference.load_handlers`` and call ``Handlers.invoke`` as the worker does, so each
contract rule (which handler wins, what each default decodes and encodes, which HTTP
status each failure maps to) is checked on its own.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sm_magics.backends.local import inference
from sm_magics.backends.local.inference import (
    BadRequest,
    HandlerError,
    LoadError,
    NotAcceptable,
    UnsupportedContentType,
)

#: A model whose prediction is its input doubled: every codec round trip is checkable.
DOUBLER = """\
class Doubler:
    def predict(self, data):
        return data * 2


def model_fn(model_dir):
    return Doubler()
"""

MATRIX = np.array([[1.5, 2.0, -3.25], [4.0, 5.5, 6.0]])


@pytest.fixture(autouse=True)
def _restore_import_state(tmp_path: Path) -> Iterator[None]:
    """Undo what importing user scripts does to ``sys.path`` and ``sys.modules``."""
    path = list(sys.path)
    yield
    sys.path[:] = path
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]


@pytest.fixture
def write(tmp_path: Path) -> Any:
    """Write a handler script (``DOUBLER`` plus ``extra``) into a folder of its own."""
    counter = iter(range(1000))

    def make(extra: str = "", *, base: str = DOUBLER, name: str = "inference.py") -> Path:
        folder = tmp_path / f"script-{next(counter)}"
        folder.mkdir()
        path = folder / name
        path.write_text(base + "\n" + extra)
        return path

    return make


def load(path: Path) -> tuple[inference.Handlers, Any]:
    """Load the handlers and the model, as the worker does."""
    handlers = inference.load_handlers(path)
    return handlers, inference.load_model(handlers, path.parent)


def npy(array: Any) -> bytes:
    """Return ``array`` in the ``.npy`` format."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array))
    return buffer.getvalue()


def from_npy(body: bytes) -> Any:
    """Decode a ``.npy`` body."""
    return np.load(io.BytesIO(body), allow_pickle=False)


# -- which handlers are used ------------------------------------------------------------


def test_model_fn_alone_takes_every_default(write: Any) -> None:
    handlers, model = load(write())
    assert handlers.input_fn is inference.default_input_fn
    assert handlers.predict_fn is inference.default_predict_fn
    assert handlers.output_fn is None and handlers.transform_fn is None
    body, content_type = handlers.invoke(model, b"[[1, 2]]", "application/json", "")
    assert (json.loads(body), content_type) == ([[2, 4]], "application/json")


def test_custom_input_fn_replaces_the_decoder_only(write: Any) -> None:
    script = write(
        "def input_fn(body, content_type):\n"
        "    assert content_type == 'text/plain'\n"
        "    import numpy\n"
        "    return numpy.array([float(x) for x in body.decode().split()])\n"
    )
    handlers, model = load(script)
    assert handlers.input_fn is not inference.default_input_fn
    body, content_type = handlers.invoke(model, b"1 2.5 3", "text/plain", "application/json")
    assert (json.loads(body), content_type) == ([2.0, 5.0, 6.0], "application/json")


def test_custom_predict_fn_replaces_model_predict(write: Any) -> None:
    handlers, model = load(write("def predict_fn(data, model):\n    return data.sum()\n"))
    body, _ = handlers.invoke(model, b"[1, 2, 3]", "application/json", "application/json")
    assert json.loads(body) == 6


def test_custom_output_fn_receives_the_prediction_and_accept(write: Any) -> None:
    handlers, model = load(
        write(
            "import json\n"
            "def output_fn(prediction, accept):\n"
            "    return json.dumps({'accept': accept, 'p': prediction.tolist()}), "
            "'application/vnd.custom+json'\n"
        )
    )
    body, content_type = handlers.invoke(model, b"[1]", "application/json", "text/csv")
    assert json.loads(body) == {"accept": "text/csv", "p": [2]}
    assert content_type == "application/vnd.custom+json"


def test_all_four_handlers_are_called_in_order(write: Any) -> None:
    handlers, model = load(
        write(
            "def input_fn(body, content_type):\n    return ['in', body.decode(), content_type]\n"
            "def predict_fn(data, model):\n    return data + ['predict', type(model).__name__]\n"
            "def output_fn(prediction, accept):\n    return '|'.join(prediction + [accept])\n"
        )
    )
    body, content_type = handlers.invoke(model, b"x", "text/plain", "text/plain")
    assert body == b"in|x|text/plain|predict|Doubler|text/plain"
    assert content_type == "text/plain"


def test_transform_fn_alone_handles_the_whole_request(write: Any) -> None:
    script = write(
        "def transform_fn(model, body, content_type, accept):\n"
        "    return (f'{type(model).__name__}:{body.decode()}:{content_type}:{accept}', "
        "'text/plain')\n"
    )
    handlers, model = load(script)
    assert handlers.transform_fn is not None
    body, content_type = handlers.invoke(model, b"abc", "application/x-thing", "text/plain")
    assert (body, content_type) == (b"Doubler:abc:application/x-thing:text/plain", "text/plain")


@pytest.mark.parametrize("other", ["input_fn", "predict_fn", "output_fn"])
def test_transform_fn_with_a_pipeline_handler_cannot_load(write: Any, other: str) -> None:
    script = write(
        "def transform_fn(model, body, content_type, accept):\n    return body\n"
        f"def {other}(*args):\n    return args[0]\n"
    )
    with pytest.raises(LoadError, match="transform_fn"):
        inference.load_handlers(script)


def test_a_script_without_model_fn_cannot_load(write: Any) -> None:
    script = write("def predict_fn(data, model):\n    return data\n", base="")
    with pytest.raises(LoadError, match="model_fn"):
        inference.load_handlers(script)


def test_a_script_that_fails_to_import_cannot_load(write: Any) -> None:
    with pytest.raises(LoadError, match="ZeroDivisionError"):
        inference.load_handlers(write("1 / 0\n"))


def test_model_fn_that_raises_is_a_load_error_with_its_message(write: Any) -> None:
    script = write("def model_fn(model_dir):\n    raise RuntimeError('no weights here')\n", base="")
    handlers = inference.load_handlers(script)
    with pytest.raises(LoadError, match="RuntimeError: no weights here"):
        inference.load_model(handlers, script.parent)


def test_model_fn_gets_the_model_dir(write: Any, tmp_path: Path) -> None:
    script = write("def model_fn(model_dir):\n    return model_dir\n", base="")
    handlers = inference.load_handlers(script)
    assert inference.load_model(handlers, tmp_path) == str(tmp_path)


def test_sibling_modules_of_the_script_import(write: Any) -> None:
    script = write("from sibling_helper_for_contract import VALUE\n")
    (script.parent / "sibling_helper_for_contract.py").write_text("VALUE = 42\n")
    handlers = inference.load_handlers(script)
    assert handlers.source == str(script)


# -- where the handlers come from ---------------------------------------------------------


def test_find_entry_point_prefers_the_entry_point(write: Any) -> None:
    entry, cell, packaged = write(name="entry.py"), write(name="train.py"), write()
    assert inference.find_entry_point([entry, cell, packaged]) == entry


def test_find_entry_point_then_the_training_cell(write: Any, tmp_path: Path) -> None:
    cell, packaged = write(name="train.py"), write()
    missing = tmp_path / "no-such-entry.py"
    assert inference.find_entry_point([missing, cell, packaged]) == cell


def test_find_entry_point_falls_back_to_code_inference_py(write: Any, tmp_path: Path) -> None:
    training_only = write("print('training')\n", base="", name="train.py")
    packaged = write()
    assert inference.find_entry_point([tmp_path / "nope.py", training_only, packaged]) == packaged


def test_find_entry_point_skips_a_script_without_model_fn(write: Any) -> None:
    no_handlers = write("import os\nprint(os.getcwd())\n", base="", name="entry.py")
    cell = write(name="train.py")
    assert inference.find_entry_point([no_handlers, cell]) == cell


def test_find_entry_point_without_any_handler_names_what_it_tried(
    write: Any, tmp_path: Path
) -> None:
    training_only = write("print('training')\n", base="", name="train.py")
    with pytest.raises(LoadError, match=r"No model_fn found \(train\.py\)"):
        inference.find_entry_point([training_only, tmp_path / "code" / "inference.py"])
    with pytest.raises(LoadError, match="no script found"):
        inference.find_entry_point([tmp_path / "missing.py"])


# -- default codecs -----------------------------------------------------------------------


@pytest.fixture
def doubler(write: Any) -> tuple[inference.Handlers, Any]:
    """Handlers with every default, on the doubling model."""
    return load(write())


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", json.dumps(MATRIX.tolist()).encode()),
        ("application/json; charset=utf-8", json.dumps(MATRIX.tolist()).encode()),
        ("text/csv", b"1.5,2.0,-3.25\n4.0,5.5,6.0\n"),
        ("text/csv; charset=utf-8", b"1.5,2.0,-3.25\n4.0,5.5,6.0"),
        ("TEXT/CSV", b"1.5,2,-3.25\r\n4,5.5,6\r\n"),
        ("application/x-npy", npy(MATRIX)),
    ],
)
def test_default_input_fn_decodes_every_supported_type(content_type: str, body: bytes) -> None:
    decoded = inference.default_input_fn(body, content_type)
    assert isinstance(decoded, np.ndarray)
    np.testing.assert_array_equal(decoded, MATRIX)


def test_default_input_fn_reads_a_single_csv_row_as_one_row() -> None:
    decoded = inference.default_input_fn(b"5.1,3.5,1.4,0.2", "text/csv")
    assert decoded.shape == (1, 4)


def test_a_request_without_content_type_is_read_as_json(doubler: Any) -> None:
    handlers, model = doubler
    body, content_type = handlers.invoke(model, b"[1, 2]", "", "")
    assert (json.loads(body), content_type) == ([2, 4], "application/json")


@pytest.mark.parametrize(
    ("accept", "decode"),
    [
        ("application/json", lambda body: np.array(json.loads(body))),
        ("text/csv", lambda body: np.genfromtxt(io.StringIO(body.decode()), delimiter=",")),
        ("application/x-npy", from_npy),
    ],
)
def test_default_output_fn_encodes_every_supported_type(accept: str, decode: Any) -> None:
    body, content_type = inference.default_output_fn(MATRIX, accept)
    assert content_type == accept
    np.testing.assert_array_equal(decode(body), MATRIX)


@pytest.mark.parametrize("content_type", ["application/json", "text/csv", "application/x-npy"])
@pytest.mark.parametrize("accept", ["application/json", "text/csv", "application/x-npy"])
def test_every_type_in_and_out_round_trips(doubler: Any, content_type: str, accept: str) -> None:
    handlers, model = doubler
    request_body, _ = inference.default_output_fn(MATRIX, content_type)
    body, answered = handlers.invoke(model, request_body, content_type, accept)
    assert answered == accept
    np.testing.assert_array_equal(inference.default_input_fn(body, answered), MATRIX * 2)


def test_default_output_fn_encodes_numpy_scalars_and_lists_as_json() -> None:
    body, _ = inference.default_output_fn(
        {"label": np.int64(2), "scores": np.array([0.25, 0.75], dtype=np.float32)}, ""
    )
    assert json.loads(body) == {"label": 2, "scores": [0.25, 0.75]}
    body, _ = inference.default_output_fn([1, "a"], "application/json")
    assert json.loads(body) == [1, "a"]


def test_default_output_fn_writes_one_csv_line_per_prediction() -> None:
    body, _ = inference.default_output_fn(np.array([0, 1, 2]), "text/csv")
    assert body.decode().splitlines() == ["0", "1", "2"]


def test_an_unencodable_prediction_is_a_model_error(write: Any) -> None:
    handlers, model = load(write("def predict_fn(data, model):\n    return object()\n"))
    with pytest.raises(HandlerError) as caught:
        handlers.invoke(model, b"[1]", "application/json", "application/json")
    assert caught.value.status == 500
    assert "not JSON serialisable" in str(caught.value)


# -- Accept negotiation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        ("", "application/json"),
        ("*/*", "application/json"),
        ("application/*", "application/json"),
        ("text/*", "text/csv"),
        ("text/csv", "text/csv"),
        ("text/csv; charset=utf-8", "text/csv"),
        ("Application/X-NPY", "application/x-npy"),
        ("text/html, application/x-npy", "application/x-npy"),
        ("text/csv;q=0.5, application/x-npy;q=0.9", "application/x-npy"),
        ("application/json;q=0.1, text/csv", "text/csv"),
        ("text/csv;q=0.5, */*;q=0.8", "application/json"),
        ("text/html, */*;q=0.1", "application/json"),
        ("text/csv;q=0, application/json;q=0.2", "application/json"),
        ("text/csv;q=oops, application/x-npy;q=0.1", "application/x-npy"),
    ],
)
def test_accept_negotiation(doubler: Any, accept: str, chosen: str) -> None:
    assert inference.choose_accept(accept) == chosen
    handlers, model = doubler
    _, content_type = handlers.invoke(model, b"[[1, 2]]", "application/json", accept)
    assert content_type == chosen


@pytest.mark.parametrize(
    "accept", ["text/html", "image/png, text/html;q=0.5", "text/csv;q=0", "application/xml"]
)
def test_an_unsupported_accept_is_not_acceptable(doubler: Any, accept: str) -> None:
    handlers, model = doubler
    with pytest.raises(NotAcceptable) as caught:
        handlers.invoke(model, b"[1]", "application/json", accept)
    assert caught.value.status == 406
    assert accept in str(caught.value)


def test_a_custom_output_fn_answers_any_accept(write: Any) -> None:
    handlers, model = load(
        write(
            "def output_fn(prediction, accept):\n"
            "    return b'<p>' + bytes(str(prediction), 'ascii')\n"
        )
    )
    body, content_type = handlers.invoke(model, b"3", "application/json", "text/html")
    assert (body, content_type) == (b"<p>6", "text/html")


# -- errors and their status codes ---------------------------------------------------------


@pytest.mark.parametrize("content_type", ["application/xml", "text/plain", "image/png"])
def test_an_unsupported_content_type_is_415(doubler: Any, content_type: str) -> None:
    handlers, model = doubler
    with pytest.raises(UnsupportedContentType) as caught:
        handlers.invoke(model, b"<x/>", content_type, "application/json")
    assert caught.value.status == 415
    assert content_type in str(caught.value)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b"[1, 2"),
        ("application/json", b"{'single': 'quotes'}"),
        ("application/json", b""),
        ("application/json", b"\xff\xfe\x00garbage"),
        ("text/csv", b"1,2,3\n4,5\n"),
        ("text/csv", b"\xff\xfe\xfa"),
        ("application/x-npy", b"not an npy file"),
        ("application/x-npy", npy(MATRIX)[:-5]),
        ("application/x-npy", b""),
        ("application/x-npy", npy(np.array([{"a": 1}], dtype=object))),
    ],
    ids=[
        "json-truncated",
        "json-quotes",
        "json-empty",
        "json-binary",
        "csv-ragged",
        "csv-binary",
        "npy-garbage",
        "npy-truncated",
        "npy-empty",
        "npy-pickle",
    ],
)
def test_a_malformed_body_is_400(doubler: Any, content_type: str, body: bytes) -> None:
    handlers, model = doubler
    with pytest.raises(BadRequest) as caught:
        handlers.invoke(model, body, content_type, "application/json")
    assert caught.value.status == 400
    assert caught.value.code == "ValidationError"
    assert content_type.split(";")[0] in str(caught.value)


@pytest.mark.parametrize("where", ["input_fn", "predict_fn", "output_fn"])
def test_a_handler_that_raises_is_a_500_model_error_with_its_message(
    write: Any, where: str
) -> None:
    arguments = {"input_fn": "body, ct", "predict_fn": "data, model", "output_fn": "p, accept"}
    handlers, model = load(
        write(f"def {where}({arguments[where]}):\n    raise ValueError('bad {where} input 42')\n")
    )
    with pytest.raises(HandlerError) as caught:
        handlers.invoke(model, b"[1]", "application/json", "application/json")
    assert caught.value.status == 500
    assert caught.value.code == "ModelError"
    assert f"ValueError: bad {where} input 42" in str(caught.value)


def test_a_model_whose_predict_raises_is_a_model_error(write: Any) -> None:
    handlers, model = load(
        write(
            "class Broken:\n    def predict(self, data):\n        raise KeyError('feature_7')\n"
            "def model_fn(model_dir):\n    return Broken()\n",
            base="",
        )
    )
    with pytest.raises(HandlerError, match="KeyError: 'feature_7'"):
        handlers.invoke(model, b"[1]", "application/json", "")


def test_transform_fn_that_raises_is_a_model_error(write: Any) -> None:
    handlers, model = load(
        write("def transform_fn(model, body, ct, accept):\n    raise RuntimeError('tf broke')\n")
    )
    with pytest.raises(HandlerError, match="RuntimeError: tf broke"):
        handlers.invoke(model, b"x", "text/plain", "")


# -- what output_fn and transform_fn may return -------------------------------------------


@pytest.mark.parametrize(
    ("returned", "accept", "expected"),
    [
        (
            "(b'raw', 'application/octet-stream')",
            "application/json",
            (b"raw", "application/octet-stream"),
        ),
        ("('text', 'text/plain')", "application/json", (b"text", "text/plain")),
        ("'a string'", "text/csv", (b"a string", "text/csv")),
        ("'a string'", "text/csv; charset=utf-8", (b"a string", "text/csv")),
        ("'a string'", "*/*", (b"a string", "application/json")),
        ("'a string'", "", (b"a string", "application/json")),
        ("b'bytes'", "application/x-npy", (b"bytes", "application/x-npy")),
        ("bytearray(b'ba')", "application/json", (b"ba", "application/json")),
    ],
)
def test_output_fn_may_return_a_body_or_a_body_and_type(
    write: Any, returned: str, accept: str, expected: tuple[bytes, str]
) -> None:
    handlers, model = load(write(f"def output_fn(prediction, accept):\n    return {returned}\n"))
    assert handlers.invoke(model, b"[1]", "application/json", accept) == expected


def test_transform_fn_may_return_a_str(write: Any) -> None:
    handlers, model = load(
        write("def transform_fn(model, body, ct, accept):\n    return body.decode().upper()\n")
    )
    assert handlers.invoke(model, b"abc", "text/plain", "text/plain") == (b"ABC", "text/plain")


@pytest.mark.parametrize("returned", ["{'a': 1}", "[1, 2]", "None", "42"])
def test_output_fn_returning_anything_else_is_a_model_error(write: Any, returned: str) -> None:
    handlers, model = load(write(f"def output_fn(prediction, accept):\n    return {returned}\n"))
    with pytest.raises(HandlerError, match="return bytes or str") as caught:
        handlers.invoke(model, b"[1]", "application/json", "application/json")
    assert caught.value.status == 500
