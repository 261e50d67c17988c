"""The display layer's small pure functions: MathJax-safe HTML, progress lines, instances."""

from __future__ import annotations

import pytest

from sm_magics import display
from sm_magics.backends.results import LogEvent
from sm_magics.display.costs import CostSummary


def test_no_math_marks_the_html_for_mathjax_to_skip() -> None:
    html = display.no_math("Billing now: $0.12/hour ($0.12/h would-be)")
    assert html.startswith("<div class='sm-magics mathjax_ignore tex2jax_ignore'>")
    assert "$0.12/hour ($0.12/h" in html  # the dollars themselves are left as they are


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("plain", "plain"),
        (" 10%|#   | 1/10\r 50%|##  | 5/10\r100%|####| 10/10", "100%|####| 10/10"),
        ("abcdef\rxy", "xycdef"),
        ("done\r", "done"),
        ("\r", ""),
    ],
)
def test_progress_bars_show_their_latest_state(line: str, shown: str) -> None:
    assert display.collapse_carriage_returns(line) == shown
    event = LogEvent(timestamp=0, message=line, host="algo-1")
    assert display.format_log_line(event, False) == shown
    assert display.format_log_line(event, True) == f"[algo-1] {shown}"


def test_instance_counts_use_the_multiplication_sign_the_panel_uses() -> None:
    assert display.format_instance("ml.m5.large", 2) == "ml.m5.large \u00d72"
    assert display.format_instance("ml.m5.large", 1) == "ml.m5.large"
    assert display.format_instance(None, 3) == "?"


def test_every_html_with_prices_is_mathjax_safe() -> None:
    summary = CostSummary(generated_at=0.0, running=[], today=0.5, month=1.25)
    assert "mathjax_ignore" in summary._repr_html_()


class _Pairs(display.StatusTable[tuple[str, str, str]]):
    columns = ("name", "status", "note")

    def cells(self, row: tuple[str, str, str]) -> list[str]:
        return list(row)


def test_a_table_heads_its_columns_and_never_wraps_a_name() -> None:
    """A <thead> (not striped or highlighted under the mouse); names and figures on one line."""
    html = _Pairs([("sm-train-2026-12-02-05-26-53-395", "Completed", "a long note")])._html_body()
    assert "<thead><tr><th style='text-align:left'>name</th>" in html
    assert "<td style='text-align:left;white-space:nowrap'>sm-train-2026-12-02-05-26-53-395" in html
    assert "<td style='text-align:left'>a long note</td>" in html
