"""The type of a JSON value, for data that really is any JSON (hyperparameters, ...).

Import-free, so every layer may use it. A value typed :data:`JsonValue` must be narrowed
(``isinstance``) before it is used as a number or a mapping; mypy checks that, where
``Any`` would let a wrong guess through. Keys and values of a known shape get a
``TypedDict`` instead.
"""

from __future__ import annotations

from typing import TypeAlias

#: One JSON value: what ``json.loads`` may return, and what ``json.dumps`` accepts as is.
JsonValue: TypeAlias = "str | int | float | bool | list[JsonValue] | dict[str, JsonValue] | None"

#: Hyperparameters as a user gives them (``--hp lr=0.1``, ``Session.train(hyperparameters=)``):
#: each value any JSON; a backend encodes them for the container.
Hyperparameters: TypeAlias = "dict[str, JsonValue]"

__all__ = ["Hyperparameters", "JsonValue"]
