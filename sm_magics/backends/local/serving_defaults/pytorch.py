"""The PyTorch container's defaults: a tensor in, ``model(tensor)`` under ``no_grad``.

As the PyTorch inference toolkit's default handler does:

- ``input_fn``: JSON, CSV or NPY decoded by the inference toolkit's numpy decoders, then
  a ``float32`` tensor for the text types (JSON, CSV) or ``torch.from_numpy`` for NPY
  (which keeps the sent dtype), moved to the device;
- ``predict_fn``: the model moved to the device, ``eval()``, ``torch.no_grad()``,
  ``model(tensor)``;
- ``output_fn``: a tensor back to a nested list, encoded into the first type of the
  ``Accept`` header that JSON, CSV or NPY can answer;
- ``model_fn``: ``torch.jit.load(model_dir/model.pt)`` mapped to the device; a missing
  ``model.pt`` names the file it wanted.

The device is CUDA when ``torch.cuda.is_available()``, else the CPU, like the container.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sm_magics.backends.local import inference
from sm_magics.backends.local.serving_defaults import PYTORCH, ServingDefaults

MODEL_FILE = "model.pt"
_TEXT_TYPES = (inference.JSON, inference.CSV)


def device() -> Any:
    """Return the device the container would use: the GPU if there is one."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def model_fn(model_dir: str) -> Any:
    """Load the TorchScript ``model.pt`` of ``model_dir`` onto the device."""
    import torch

    path = Path(model_dir) / MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"The PyTorch default model_fn loads a TorchScript {MODEL_FILE} and the model "
            f"folder has none; save torch.jit.script(model) as {MODEL_FILE} or define model_fn."
        )
    return torch.jit.load(str(path), map_location=device())  # type: ignore[no-untyped-call]


def input_fn(body: bytes, content_type: str) -> Any:
    """Decode a request to a tensor on the device."""
    import torch

    array = inference.default_input_fn(body, content_type)
    tensor: torch.Tensor
    if inference.base_type(content_type) in _TEXT_TYPES:
        tensor = torch.FloatTensor(array)
    else:
        tensor = torch.from_numpy(array)
    return tensor.to(device())


def predict_fn(data: Any, model: Any) -> Any:
    """Run ``model(data)`` in eval mode without gradients, both on the device."""
    import torch

    target = device()
    with torch.no_grad():
        model.to(target)
        model.eval()
        return model(data.to(target))


def output_fn(prediction: Any, accept: str) -> tuple[bytes, str]:
    """Encode a tensor (or anything the numpy encoders take) for the ``Accept`` header."""
    import torch

    if isinstance(prediction, torch.Tensor):
        prediction = prediction.detach().cpu().numpy().tolist()
    return inference.default_output_fn(prediction, accept)


DEFAULTS = ServingDefaults(
    name=PYTORCH,
    model_fn=model_fn,
    input_fn=input_fn,
    predict_fn=predict_fn,
    output_fn=output_fn,
    content_types=inference.SUPPORTED,
    accepts=inference.SUPPORTED,
)
