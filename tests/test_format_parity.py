"""One cost formatter: the kernel's pricing.format_usd and the panel's formatUsd agree.

``labextension/test/format_cases.json`` lists amounts and their text; the panel's jest
test (labextension/test/format.spec.ts) checks formatUsd against the same file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sm_magics import pricing
from sm_magics.display import costs as display_costs
from sm_magics.server import serialize

CASES = Path(__file__).resolve().parents[1] / "labextension" / "test" / "format_cases.json"


@pytest.mark.parametrize(("amount", "text"), json.loads(CASES.read_text())["usd"])
def test_format_usd_matches_the_panels_cases(amount: float | None, text: str) -> None:
    assert pricing.format_usd(amount) == text


@pytest.mark.parametrize("amount", [0.0000039, 0.000123456, 1.23456789, 1234.5678])
def test_the_json_keeps_what_the_widget_shows(amount: float) -> None:
    # The widget formats the exact amount; the panel formats the JSON's rounded one.
    assert pricing.format_usd(serialize._money(amount)) == pricing.format_usd(amount)
    assert pricing.format_usd(display_costs.rounded(amount)) == pricing.format_usd(amount)
