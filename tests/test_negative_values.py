"""Magic lines whose values start with a minus sign (negative numbers in data literals)."""

from __future__ import annotations

from typing import Any

from sm_magics.magic_parsing import parse_line


class _Magic:
    def __init__(self, parser: Any) -> None:
        self.parser = parser


def test_negative_numbers_inside_a_literal_are_data_not_options(ip: Any) -> None:
    magics = ip.magics_manager.registry["ServingMagics"]
    args = parse_line(_Magic(magics.sm_invoke.parser), "ep [[0.1, -1.2, -.5]] --accept text/csv")
    assert args.data == ["[[0.1,", "-1.2,", "-.5]]"]
    assert args.accept == "text/csv"


def test_a_real_option_is_still_an_option(ip: Any) -> None:
    magics = ip.magics_manager.registry["JobMagics"]
    args = parse_line(_Magic(magics.sm_jobs.parser), "--limit 5")
    assert args.limit == 5
