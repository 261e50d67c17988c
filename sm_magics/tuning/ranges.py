"""Hyperparameter ranges as users type them, as SageMaker takes them, as Optuna samples them.

``--range`` has three forms, one per SageMaker range kind, told apart by their separators:

* ``lr=1e-4:1e-1[:log]``: a continuous range (``ContinuousParameterRanges``);
* ``depth=3..10[:log]``: an integer range, both ends included (``IntegerParameterRanges``);
* ``booster=gbtree,dart``: categorical values (``CategoricalParameterRanges``).

The optional scaling is SageMaker's ``ScalingType``: ``auto`` (the default), ``linear``,
``log`` (``Logarithmic``) or ``reverse-log`` (``ReverseLogarithmic``). The same parsed
range becomes the request's ``ParameterRanges`` on SageMaker and an Optuna distribution
locally, so the two backends search the same space. Values a trial receives are strings
on SageMaker's wire; :func:`decode_value` gives them back the type the script expects.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sm_magics.errors import InvalidRequest

if TYPE_CHECKING:
    from mypy_boto3_sagemaker.type_defs import (
        CategoricalParameterRangeOutputTypeDef,
        ContinuousParameterRangeTypeDef,
        IntegerParameterRangeTypeDef,
        ParameterRangesOutputTypeDef,
    )
    from optuna.distributions import BaseDistribution

    from sm_magics.json_types import JsonValue

Scaling = Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"]

_SCALINGS: dict[str, Scaling] = {
    "auto": "Auto",
    "linear": "Linear",
    "log": "Logarithmic",
    "logarithmic": "Logarithmic",
    "reverse-log": "ReverseLogarithmic",
    "reverselog": "ReverseLogarithmic",
    "reverse_log": "ReverseLogarithmic",
    "reverselogarithmic": "ReverseLogarithmic",
}
#: SageMaker's limits: 30 values per categorical range, 30 tunable parameters in all.
MAX_CATEGORICAL_VALUES = 30
MAX_TUNABLE_PARAMETERS = 30
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,255}")


@dataclass(frozen=True)
class ContinuousRange:
    """A float between ``low`` and ``high``."""

    name: str
    low: float
    high: float
    scaling: Scaling = "Auto"

    def to_sagemaker(self) -> ContinuousParameterRangeTypeDef:
        """Return the ``ContinuousParameterRange`` shape."""
        return {
            "Name": self.name,
            "MinValue": repr(self.low),
            "MaxValue": repr(self.high),
            "ScalingType": self.scaling,
        }

    def distribution(self) -> BaseDistribution:
        """Return the Optuna distribution that samples this range."""
        from optuna.distributions import FloatDistribution

        return FloatDistribution(self.low, self.high, log=self.scaling == "Logarithmic")


@dataclass(frozen=True)
class IntegerRange:
    """An integer from ``low`` to ``high``, both included."""

    name: str
    low: int
    high: int
    scaling: Scaling = "Auto"

    def to_sagemaker(self) -> IntegerParameterRangeTypeDef:
        """Return the ``IntegerParameterRange`` shape."""
        return {
            "Name": self.name,
            "MinValue": str(self.low),
            "MaxValue": str(self.high),
            "ScalingType": self.scaling,
        }

    def distribution(self) -> BaseDistribution:
        """Return the Optuna distribution that samples this range."""
        from optuna.distributions import IntDistribution

        return IntDistribution(self.low, self.high, log=self.scaling == "Logarithmic")


@dataclass(frozen=True)
class CategoricalRange:
    """One of a few values (kept as the strings the user typed, as SageMaker keeps them)."""

    name: str
    values: tuple[str, ...]

    def to_sagemaker(self) -> CategoricalParameterRangeOutputTypeDef:
        """Return the ``CategoricalParameterRange`` shape."""
        return {"Name": self.name, "Values": list(self.values)}

    def distribution(self) -> BaseDistribution:
        """Return the Optuna distribution that samples this range."""
        from optuna.distributions import CategoricalDistribution

        return CategoricalDistribution(list(self.values))


ParameterRange = ContinuousRange | IntegerRange | CategoricalRange


def _number(text: str, what: str, option: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidRequest(f"--range {option}: {what} {text!r} is not a number.") from None
    if not math.isfinite(value):
        raise InvalidRequest(f"--range {option}: {what} must be finite, not {text!r}.")
    return value


def _integer(text: str, what: str, option: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidRequest(f"--range {option}: {what} {text!r} is not an integer.") from None


def _scaling(text: str | None, option: str) -> Scaling:
    if text is None:
        return "Auto"
    try:
        return _SCALINGS[text.strip().lower()]
    except KeyError:
        raise InvalidRequest(
            f"--range {option}: unknown scaling {text!r}; use log, linear, reverse-log or auto."
        ) from None


def _check_scaling(
    rng: ContinuousRange | IntegerRange, low: float, high: float, option: str
) -> None:
    if rng.scaling == "Logarithmic" and low <= 0:
        raise InvalidRequest(f"--range {option}: a log scale needs a range above 0.")
    if rng.scaling == "ReverseLogarithmic":
        if isinstance(rng, IntegerRange):
            raise InvalidRequest(
                f"--range {option}: reverse-log applies to continuous ranges only (SageMaker)."
            )
        if not (low >= 0 and high < 1):
            raise InvalidRequest(
                f"--range {option}: a reverse-log scale needs 0 <= LOW and HIGH < 1."
            )


def parse_range(text: str) -> ParameterRange:
    """Parse one ``--range`` value (see the module docstring for the three forms).

    Raises
    ------
    InvalidRequest
        No ``KEY=``, bounds that are not numbers or not in order, a log scale over values
        that are not positive, fewer than two or more than 30 categorical values.
    """
    name, sep, body = text.partition("=")
    name = name.strip()
    if not sep or not body.strip():
        raise InvalidRequest(
            f"--range {text!r}: write KEY=LO:HI[:log], KEY=A..B or KEY=a,b,c "
            "(e.g. --range lr=1e-4:1e-1:log --range depth=3..10 --range booster=gbtree,dart)."
        )
    if not _NAME.fullmatch(name):
        raise InvalidRequest(f"--range {text!r}: {name!r} is not a hyperparameter name.")
    body = body.strip()
    if ".." in body and "," not in body:
        bounds, _, scale = body.partition(":")
        low_text, _, high_text = bounds.partition("..")
        low = _integer(low_text.strip(), "LOW", text)
        high = _integer(high_text.strip(), "HIGH", text)
        if low > high:
            raise InvalidRequest(f"--range {text}: LOW {low} is above HIGH {high}.")
        integer = IntegerRange(name, low, high, _scaling(scale or None, text))
        _check_scaling(integer, low, high, text)
        return integer
    if ":" in body and "," not in body:
        parts = body.split(":")
        if len(parts) > 3:
            raise InvalidRequest(f"--range {text}: write KEY=LO:HI or KEY=LO:HI:SCALE.")
        low_f = _number(parts[0].strip(), "LOW", text)
        high_f = _number(parts[1].strip(), "HIGH", text)
        if not low_f < high_f:
            raise InvalidRequest(f"--range {text}: LOW must be below HIGH.")
        continuous = ContinuousRange(
            name, low_f, high_f, _scaling(parts[2] if len(parts) == 3 else None, text)
        )
        _check_scaling(continuous, low_f, high_f, text)
        return continuous
    values = tuple(dict.fromkeys(v.strip() for v in body.split(",") if v.strip()))
    if len(values) < 2:
        raise InvalidRequest(
            f"--range {text}: a categorical range needs at least two values; "
            "give one fixed value with --hp instead."
        )
    if len(values) > MAX_CATEGORICAL_VALUES:
        raise InvalidRequest(
            f"--range {text}: SageMaker allows at most {MAX_CATEGORICAL_VALUES} values."
        )
    return CategoricalRange(name, values)


def parse_ranges(texts: list[str]) -> list[ParameterRange]:
    """Parse every ``--range``; the names must differ and there may be at most 30."""
    ranges = [parse_range(text) for text in texts]
    names = [r.name for r in ranges]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InvalidRequest(f"--range names a hyperparameter twice: {', '.join(twice)}.")
    if not ranges:
        raise InvalidRequest("Tuning needs at least one --range KEY=... to search.")
    if len(ranges) > MAX_TUNABLE_PARAMETERS:
        raise InvalidRequest(
            f"SageMaker tunes at most {MAX_TUNABLE_PARAMETERS} hyperparameters at once."
        )
    return ranges


def to_parameter_ranges(ranges: list[ParameterRange]) -> ParameterRangesOutputTypeDef:
    """Return SageMaker's ``ParameterRanges`` for ``ranges`` (empty kinds left out)."""
    shape: ParameterRangesOutputTypeDef = {}
    for rng in ranges:
        if isinstance(rng, ContinuousRange):
            shape.setdefault("ContinuousParameterRanges", []).append(rng.to_sagemaker())
        elif isinstance(rng, IntegerRange):
            shape.setdefault("IntegerParameterRanges", []).append(rng.to_sagemaker())
        else:
            shape.setdefault("CategoricalParameterRanges", []).append(rng.to_sagemaker())
    return shape


def from_parameter_ranges(shape: ParameterRangesOutputTypeDef) -> list[ParameterRange]:
    """Return the ranges of a SageMaker ``ParameterRanges`` (a warm start's parent's)."""
    ranges: list[ParameterRange] = []
    for item in shape.get("ContinuousParameterRanges", []):
        ranges.append(
            ContinuousRange(
                item["Name"],
                float(item["MinValue"]),
                float(item["MaxValue"]),
                item.get("ScalingType", "Auto"),
            )
        )
    for number in shape.get("IntegerParameterRanges", []):
        ranges.append(
            IntegerRange(
                number["Name"],
                int(number["MinValue"]),
                int(number["MaxValue"]),
                number.get("ScalingType", "Auto"),
            )
        )
    for choice in shape.get("CategoricalParameterRanges", []):
        ranges.append(CategoricalRange(choice["Name"], tuple(choice["Values"])))
    return ranges


def grid_size(ranges: list[ParameterRange]) -> int:
    """Return how many combinations a grid search over ``ranges`` has."""
    size = 1
    for rng in ranges:
        if not isinstance(rng, CategoricalRange):
            raise InvalidRequest(
                f"--strategy grid searches categorical ranges only (as SageMaker does); "
                f"{rng.name} is a numeric range: list its values, e.g. "
                f"--range {rng.name}=a,b,c."
            )
        size *= len(rng.values)
    return size


def decode_value(text: str) -> JsonValue:
    """Return a categorical value with the JSON type it looks like (``"3"`` → ``3``).

    Hyperparameters reach a script through ``SM_HPS`` and ``--key value``; the values a
    user lists for a categorical range are written as they would be with ``--hp``.
    """
    import json

    try:
        value: JsonValue = json.loads(text)
    except ValueError:
        return text
    return value
