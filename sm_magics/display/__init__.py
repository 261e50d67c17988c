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
from typing import TYPE_CHECKING, ClassVar, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from sm_magics.backends.results import LogEvent


class MimeBundleView(Protocol):
    """A widget as IPython displays it: its views by MIME type (ipywidgets' ``DOMWidget``)."""

    def _repr_mimebundle_(
        self, include: object = None, exclude: object = None
    ) -> dict[str, object] | None: ...


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

#: Classes that keep MathJax out of an element. JupyterLab typesets HTML outputs, and text
#: between two ``$`` signs ("$0.12/hour ... ($0.12/h") became italic maths with its dollars
#: gone. ``mathjax_ignore`` is MathJax 3's ``ignoreHtmlClass``; ``tex2jax_ignore`` is
#: MathJax 2's (classic Notebook, nbviewer). Escaping the ``$`` would not help: MathJax
#: reads the DOM's text, where ``&#36;`` is a ``$`` again.
NO_MATH_CLASSES = "mathjax_ignore tex2jax_ignore"


def no_math(html: str, css_class: str = "") -> str:
    """Wrap ``html`` in a ``div`` MathJax leaves alone; every HTML we output goes through it.

    Examples
    --------
    >>> no_math("<b>$1 and $2</b>", "sm-magics-cost")
    "<div class='sm-magics sm-magics-cost mathjax_ignore tex2jax_ignore'><b>$1 and $2</b></div>"
    """
    classes = " ".join(c for c in ("sm-magics", css_class, NO_MATH_CLASSES) if c)
    return f"<div class='{classes}'>{html}</div>"


#: The multiplication sign of ``ml.m5.large (times) 2``, as the side panel writes it.
TIMES = "\u00d7"


def format_instance(instance_type: str | None, count: int | None) -> str:
    """Return ``ml.m5.large``, or the type, a multiplication sign and the count; ``?``."""
    if not instance_type:
        return "?"
    return f"{instance_type} {TIMES}{count}" if count and count > 1 else instance_type


def collapse_carriage_returns(text: str) -> str:
    r"""Return what a terminal shows for one line that redraws itself with ``\r`` (tqdm).

    Each ``\r`` goes back to the start of the line and the text after it overwrites what
    was there; a trailing ``\r`` changes nothing. The widget, ``%sm_logs`` and the side
    panel's log view (labextension/src/format.ts) show a progress bar at its latest state.

    Examples
    --------
    >>> collapse_carriage_returns(" 10%|#  |\r 50%|## |\r100%|###|")
    '100%|###|'
    >>> collapse_carriage_returns("abcdef\rxy")
    'xycdef'
    """
    if "\r" not in text:
        return text
    line = ""
    for part in text.rstrip("\r").split("\r"):
        line = part + line[len(part) :]
    return line


class StatusTable(Generic[Row]):
    """Rows with a coloured status column, as HTML or as aligned text.

    Subclasses name their ``columns``, the text shown when empty, and how a row becomes
    cells (:meth:`cells`); the status is the column named ``status``.
    """

    columns: ClassVar[tuple[str, ...]] = ()
    empty_text: ClassVar[str] = "Nothing to show."
    css_class: ClassVar[str] = "sm-magics-table"
    #: Columns never wrapped: a generated name cut at a hyphen, or "1m" over "03s", reads
    #: as two values (seen in %sm_cost's table in a 1400 px window).
    nowrap: ClassVar[frozenset[str]] = frozenset(
        {"name", "age", "duration", "cost/hour", "cost", "created", "started"}
    )

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
        return no_math(self._html_body())

    def _html_body(self) -> str:
        """Return the table's HTML unwrapped, for a caller that wraps more (:func:`no_math`)."""
        if not self.rows:
            return f"<p>{escape(self.empty_text)}</p>"
        status_column = self.columns.index("status")
        head = "".join(f"<th style='text-align:left'>{c}</th>" for c in self.columns)
        styles = [
            "text-align:left" + (";white-space:nowrap" if c in self.nowrap else "")
            for c in self.columns
        ]
        body = []
        for row in self.rows:
            cells = [escape(c) for c in self.cells(row)]
            colour = STATUS_COLOURS.get(self.status(row), "inherit")
            cells[status_column] = (
                f"<span style='color:{colour};font-weight:600'>{cells[status_column]}</span>"
            )
            body.append(
                "<tr>"
                + "".join(
                    f"<td style='{style}'>{c}</td>" for style, c in zip(styles, cells, strict=True)
                )
                + "</tr>"
            )
        # A <thead>: JupyterLab styles it as a heading, and neither stripes nor highlights
        # it under the mouse as it does the body's rows.
        return (
            f"<table class='{self.css_class}'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>"
        )


def widget_bundle(
    text: str,
    make_widget: Callable[[], MimeBundleView] | None,
    include: object = None,
    exclude: object = None,
    html: str | None = None,
) -> dict[str, object]:
    """Return a display bundle: ``text/plain`` always, the widget's view when one is made.

    The text is what nbval and terminals show; ``html`` (a static snapshot) is what a
    frontend shows when it cannot show the widget: a notebook reopened without its kernel,
    nbconvert, GitHub. ``make_widget`` is ``None`` when no widget-capable kernel runs us.
    """
    bundle: dict[str, object] = {"text/plain": text}
    if html is not None:
        bundle["text/html"] = html
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
    r"""Return one log line as text, with ``[algo-N]`` when several hosts write.

    A progress bar redrawn with ``\r`` shows its latest state.
    """
    message = collapse_carriage_returns(event.message)
    return f"[{event.host}] {message}" if with_host else message
