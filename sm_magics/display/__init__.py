"""What jobs and endpoints look like in a notebook: status colours, tables, widget bundles.

The display layer: the API hands out handles and records, this package turns them into
text, HTML and widgets. It never imports :mod:`sm_magics.api`, so the API, the widgets,
the log followers and the endpoint handle all depend on it and not on each other.

``%sm_jobs`` and ``%sm_endpoints`` return tables that are HTML in a notebook and aligned
text elsewhere (nbval compares the text); both are a :class:`StatusTable`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from html import escape
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

if TYPE_CHECKING:
    from sm_magics.backends.base import LogEvent

#: Colours of statuses in tables and widgets (JupyterLab's theme variables, with fallbacks).
STATUS_COLOURS = {
    "InProgress": "var(--jp-brand-color1, #1976d2)",
    "Creating": "var(--jp-brand-color1, #1976d2)",
    "Updating": "var(--jp-brand-color1, #1976d2)",
    "InService": "var(--jp-success-color1, #388e3c)",
    "Deleting": "var(--jp-warn-color1, #f57c00)",
    "Deleted": "var(--jp-layout-color4, #757575)",
    "Stopping": "var(--jp-warn-color1, #f57c00)",
    "Completed": "var(--jp-success-color1, #388e3c)",
    "Failed": "var(--jp-error-color1, #d32f2f)",
    "Stopped": "var(--jp-layout-color4, #757575)",
}

Row = TypeVar("Row")


class StatusTable(Generic[Row]):
    """Rows with a coloured status column, as HTML or as aligned text.

    Subclasses name their ``columns``, the text shown when empty, and how a row becomes
    cells (:meth:`cells`); the status is the column named ``status``.
    """

    columns: ClassVar[tuple[str, ...]] = ()
    empty_text: ClassVar[str] = "Nothing to show."
    css_class: ClassVar[str] = "sm-magics-table"

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    def cells(self, row: Row) -> list[str]:
        """Return one row's cells, in the order of :attr:`columns`."""
        raise NotImplementedError

    def status(self, row: Row) -> str:
        """Return one row's status (it picks the colour)."""
        return str(getattr(row, "status", ""))

    def __repr__(self) -> str:
        if not self.rows:
            return self.empty_text
        table = [list(self.columns)] + [self.cells(r) for r in self.rows]
        widths = [max(len(line[i]) for line in table) for i in range(len(self.columns))]
        return "\n".join(
            "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
            for line in table
        )

    def _repr_html_(self) -> str:
        if not self.rows:
            return f"<p>{escape(self.empty_text)}</p>"
        status_column = self.columns.index("status")
        head = "".join(f"<th style='text-align:left'>{c}</th>" for c in self.columns)
        body = []
        for row in self.rows:
            cells = [escape(c) for c in self.cells(row)]
            colour = STATUS_COLOURS.get(self.status(row), "inherit")
            cells[status_column] = (
                f"<span style='color:{colour};font-weight:600'>{cells[status_column]}</span>"
            )
            body.append(
                "<tr>" + "".join(f"<td style='text-align:left'>{c}</td>" for c in cells) + "</tr>"
            )
        return f"<table class='{self.css_class}'><tr>{head}</tr>{''.join(body)}</table>"


def widget_bundle(
    text: str, make_widget: Callable[[], Any] | None, include: Any = None, exclude: Any = None
) -> dict[str, Any]:
    """Return a display bundle: ``text/plain`` always, the widget's view when one is made.

    The text is what nbval, terminals and frontends without widgets show; ``make_widget``
    is ``None`` when no widget-capable kernel runs us.
    """
    bundle: dict[str, Any] = {"text/plain": text}
    if make_widget is not None:
        view = make_widget()._repr_mimebundle_(include=include, exclude=exclude)
        if view:
            bundle.update({k: v for k, v in view.items() if k != "text/plain"})
    return bundle


def widgets_available() -> bool:
    """Whether a kernel with a comm channel (a widget-capable frontend) runs us."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def format_log_line(event: LogEvent, with_host: bool) -> str:
    """Return one log line as text, with ``[algo-N]`` when several hosts write."""
    return f"[{event.host}] {event.message}" if with_host else event.message
