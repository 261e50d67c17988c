"""Metrics parsed from log lines with ``--metric NAME=REGEX``, as SageMaker does.

SageMaker's ``MetricDefinitions`` take a regex per metric and publish the first capture
group of every matching log line as a float. Both the widget (live curves) and the local
supervisor (``FinalMetricDataList``) use this one parser so they agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class MetricPoint:
    """One value of one metric at one time."""

    name: str
    timestamp: int  # milliseconds since the epoch
    value: float


def match_value(pattern: re.Pattern[str], line: str) -> float | None:
    """Return the float a metric regex captures in ``line`` (its first group), if any."""
    match = pattern.search(line)
    if match is None:
        return None
    text = match.group(1) if match.groups() else match.group(0)
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


class MetricParser:
    """Turns log lines into metric points for a fixed set of definitions."""

    def __init__(self, definitions: dict[str, str]) -> None:
        self.patterns = {name: re.compile(regex) for name, regex in definitions.items()}

    def parse(self, timestamp: int, line: str) -> list[MetricPoint]:
        """Return the points one line yields (none for most lines)."""
        points = []
        for name, pattern in self.patterns.items():
            value = match_value(pattern, line)
            if value is not None:
                points.append(MetricPoint(name, timestamp, value))
        return points

    def last_values(self, lines: Iterable[tuple[int, str]]) -> dict[str, MetricPoint]:
        """Return the last point of each metric over ``(timestamp, line)`` pairs."""
        last: dict[str, MetricPoint] = {}
        for timestamp, line in lines:
            for point in self.parse(timestamp, line):
                last[point.name] = point
        return last


def metric_definitions(description: Mapping[str, object]) -> dict[str, str]:
    """Return ``{name: regex}`` of a job's ``--metric`` definitions (none for transforms)."""
    algorithm = description.get("AlgorithmSpecification")
    definitions = algorithm.get("MetricDefinitions") if isinstance(algorithm, Mapping) else None
    return {
        str(m["Name"]): str(m["Regex"])
        for m in (definitions if isinstance(definitions, list | tuple) else [])
        if isinstance(m, Mapping)
    }
