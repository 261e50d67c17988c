"""The XGBoost container's defaults: requests decoded to a ``DMatrix``, ``booster.predict``.

What the container does, and so what we do:

- ``input_fn``: ``text/csv`` (delimiter sniffed from the first line, empty cells are
  missing values), ``text/libsvm`` / ``text/x-libsvm`` and
  ``application/x-recordio-protobuf`` become a ``DMatrix``; anything else, JSON included,
  is refused (415), as the container refuses it.
- ``predict_fn``: ``model.predict(dmatrix, validate_features=False)``.
- ``output_fn``: the inference toolkit's numpy encoders (JSON, CSV, NPY).
- ``model_fn``: the container's algorithm mode loader (every file of the model folder:
  a pickled booster, else ``Booster.load_model``). In script mode the real container has
  no default ``model_fn``; we load the booster anyway, so a script that saved
  ``xgboost-model`` serves without one, and say so in ``docs/parity.md``.
"""

from __future__ import annotations

import csv
import pickle
from pathlib import Path
from typing import Any

from sm_magics.backends.local import inference, recordio
from sm_magics.backends.local.serving_defaults import XGBOOST, ServingDefaults

CSV = "text/csv"
LIBSVM = ("text/libsvm", "text/x-libsvm")
RECORDIO_PROTOBUF = "application/x-recordio-protobuf"
CONTENT_TYPES = (CSV, *LIBSVM, RECORDIO_PROTOBUF)
#: The file name the container's built-in algorithm and most scripts save the booster as.
MODEL_FILE = "xgboost-model"
_BOOSTER_SUFFIXES = ("", ".json", ".ubj", ".bst", ".xgb", ".model", ".pkl")


def _csv_to_dmatrix(text: str) -> Any:
    import numpy as np
    import xgboost as xgb

    lines = text.strip("\n").split("\n")
    sniffed = csv.Sniffer().sniff(lines[0][:512], delimiters=",\t;| ").delimiter
    delimiter = "," if sniffed.isalnum() else sniffed
    rows = [["nan" if cell == "" else cell for cell in line.split(delimiter)] for line in lines]
    return xgb.DMatrix(np.array(rows).astype(float))


def _libsvm_to_dmatrix(body: bytes) -> Any:
    """Parse ``label index:value ...`` lines (the label, if any, is ignored) to a sparse matrix.

    As the container's algorithm mode does; XGBoost's own text-file reader is deprecated.
    """
    import xgboost as xgb
    from scipy.sparse import csr_matrix

    rows: list[int] = []
    cols: list[int] = []
    values: list[float] = []
    lines = [line for line in body.decode().strip().split("\n") if line.strip()]
    for row, line in enumerate(lines):
        for item in line.split():
            if ":" in item:
                index, value = item.split(":", 1)
                rows.append(row)
                cols.append(int(index))
                values.append(float(value))
    return xgb.DMatrix(csr_matrix((values, (rows, cols)), shape=(len(lines), max(cols) + 1)))


def input_fn(body: bytes, content_type: str) -> Any:
    """Decode a request to a ``DMatrix`` as the XGBoost container does."""
    import xgboost as xgb

    kind = inference.base_type(content_type)
    try:
        if kind == CSV:
            return _csv_to_dmatrix(body.decode())
        if kind in LIBSVM:
            return _libsvm_to_dmatrix(body)
        if kind == RECORDIO_PROTOBUF:
            return xgb.DMatrix(recordio.read_dense(body))
    except (ValueError, UnicodeDecodeError, csv.Error, xgb.core.XGBoostError) as exc:
        raise inference.BadRequest(f"Could not decode the body as {kind}: {exc}") from None
    raise inference.UnsupportedContentType(
        f"Content type {content_type!r} is not decoded by the XGBoost container's default "
        f"input_fn; send one of {', '.join(CONTENT_TYPES)} or define input_fn."
    )


def predict_fn(data: Any, model: Any) -> Any:
    """``model.predict(data, validate_features=False)``, the container's default."""
    return model.predict(data, validate_features=False)


def model_fn(model_dir: str) -> Any:
    """Load the booster saved in ``model_dir`` (pickled, or XGBoost's own format).

    ``xgboost-model`` is tried first; otherwise the one file the folder holds (a folder
    of several candidates is ambiguous and refused, with their names).
    """
    import xgboost as xgb

    folder = Path(model_dir)
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    preferred = [p for p in files if p.name == MODEL_FILE]
    candidates = preferred or [p for p in files if p.suffix in _BOOSTER_SUFFIXES]
    if len(candidates) != 1:
        names = ", ".join(p.name for p in files) or "nothing"
        raise FileNotFoundError(
            f"The XGBoost default model_fn looks for {MODEL_FILE} (or a single saved booster) "
            f"in the model folder, which holds {names}; save the booster as {MODEL_FILE} "
            "or define model_fn."
        )
    raw = candidates[0].read_bytes()
    if raw[:1] == b"\x80":  # a pickle (protocol 2+): the container tries pickle first too
        return pickle.loads(raw)  # noqa: S301 - the user's own model, as the container does
    booster = xgb.Booster()
    booster.load_model(bytearray(raw))  # JSON or UBJSON, told apart by XGBoost itself
    return booster


DEFAULTS = ServingDefaults(
    name=XGBOOST,
    model_fn=model_fn,
    input_fn=input_fn,
    predict_fn=predict_fn,
    output_fn=inference.default_output_fn,
    content_types=CONTENT_TYPES,
    accepts=inference.SUPPORTED,
)
