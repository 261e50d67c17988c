"""nbval's settings for the notebooks: compare what a terminal shows, not the HTML.

nbval compares every output's ``text/plain`` (sanitized by ``sanitize.cfg``) and, where a
stored output has one, its ``text/html`` too. Our HTML outputs carry a live snapshot
(timestamped) and live paths; how they look is checked in a real JupyterLab by
``tests/ui/test_notebooks.py`` (no maths typesetting, no broken widget, dollar amounts
present), so here HTML is left out of the comparison as widget views already are.
"""

from __future__ import annotations

from typing import Any


def pytest_collection_modifyitems(session: Any, config: Any, items: list[Any]) -> None:
    """Add ``text/html`` to each notebook's fields nbval does not compare."""
    for item in items:
        notebook = getattr(item, "parent", None)
        skip = getattr(notebook, "skip_compare", None)
        if skip is not None and "text/html" not in skip:
            notebook.skip_compare = (*skip, "text/html")
