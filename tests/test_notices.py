"""Backends report notices through ``warnings``; the kernel shows them as plain lines."""

from __future__ import annotations

import sys
import warnings

import pytest

from sm_magics.errors import SmMagicsNotice, notice, show_notices_plainly


def _shown_elsewhere(
    message: Warning | str, category: type[Warning], *args: object, **kwargs: object
) -> None:
    print(f"elsewhere: {category.__name__} {message}", file=sys.stderr)


def test_a_notice_is_a_warning_a_caller_can_record_or_escalate() -> None:
    with pytest.warns(SmMagicsNotice, match="chose the default"):
        notice("chose the default")
    with warnings.catch_warnings(), pytest.raises(SmMagicsNotice):
        warnings.simplefilter("error", SmMagicsNotice)
        notice("chose the default")


def test_in_the_kernel_a_notice_is_one_plain_line_each_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with warnings.catch_warnings():
        warnings.resetwarnings()
        warnings.showwarning = _shown_elsewhere  # what the kernel had before the extension
        show_notices_plainly()
        show_notices_plainly()  # loading the extension twice wraps once
        notice("created the default bucket s3://b")
        notice("created the default bucket s3://b")  # said again, not once per line
        warnings.warn("something else", UserWarning, stacklevel=1)
    err = capsys.readouterr().err
    assert err.count("sm-magics: created the default bucket s3://b\n") == 2
    assert "elsewhere: UserWarning something else" in err  # other warnings as before
    assert "SmMagicsNotice" not in err
