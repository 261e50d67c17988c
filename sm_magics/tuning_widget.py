"""The live tuning widget: trials table, best objective over time, curves, cost, Stop.

One poller thread per widget reads the tuning job's description and its trials at the
backend's pace and re-renders; it ends once the job has ended (after one last render).
Like the job widget, it writes only into widget models, never prints, so nothing lands in
another cell. Clicking a trial in the "Logs of" list shows that trial's log tail.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

import ipywidgets as widgets

from sm_magics.backends import descriptions
from sm_magics.charts import line_chart_svg, lines_chart_svg
from sm_magics.display import NO_MATH_CLASSES, format_log_line, no_math
from sm_magics.display.tuning import (
    BASE_COLUMNS,
    TAIL_COLUMNS,
    trial_rows,
    trials_table_html,
    tuning_header_html,
)
from sm_magics.errors import SmMagicsError

if TYPE_CHECKING:
    from sm_magics.api.tuning import Tuning
    from sm_magics.backends.descriptions import TrialSummary, TuningJobDescription
    from sm_magics.display.tuning import TrialRow

TERMINAL = ("Completed", "Failed", "Stopped")
LOG_TAIL_LINES = 200
_LOG_STYLE = (
    "max-height:14em;overflow:auto;margin:0;padding:4px 6px;font-size:12px;"
    "background:var(--jp-layout-color2, #f5f5f5);color:var(--jp-content-font-color1, #222)"
)


class TuningWidget(widgets.VBox):  # type: ignore[misc]
    """A live view of one tuning job, refreshed by its own poller thread."""

    def __init__(self, tuning: Tuning, *, follow: bool = True) -> None:
        self.tuning = tuning
        self.header = widgets.HTML()
        self.charts = widgets.HTML()
        self.table = widgets.HTML()
        self.message = widgets.HTML()
        self.stop_button = widgets.Button(
            description="Stop",
            icon="stop",
            button_style="warning",
            tooltip="Stop the tuning job and every running trial",
            layout=widgets.Layout(width="auto"),
        )
        self.stop_button.on_click(self._on_stop)
        self.sort_by = widgets.Dropdown(
            options=["objective"],
            value="objective",
            description="Sort by",
            layout=widgets.Layout(width="220px"),
        )
        self.descending = widgets.ToggleButton(
            value=True,
            description="best first",
            icon="sort",
            tooltip="Toggle the order",
            layout=widgets.Layout(width="auto"),
        )
        self.trial_picker = widgets.Dropdown(
            options=[], description="Logs of", layout=widgets.Layout(width="340px")
        )
        self.trial_logs = widgets.HTML()
        self.sort_by.observe(lambda _: self._render_table(), names="value")
        self.descending.observe(lambda _: self._render_table(), names="value")
        self.trial_picker.observe(lambda _: self._show_trial_logs(), names="value")
        super().__init__(
            [
                self.header,
                widgets.HBox([self.stop_button, self.message]),
                self.charts,
                widgets.HBox([self.sort_by, self.descending]),
                self.table,
                self.trial_picker,
                self.trial_logs,
            ],
            layout=widgets.Layout(border="1px solid var(--jp-border-color2, #ddd)", padding="6px"),
        )
        for css_class in NO_MATH_CLASSES.split():
            # The message and the trial logs are not wrapped in no_math: the whole widget is
            # kept from JupyterLab's typesetting of $...$ pairs, as the job widget is.
            self.add_class(css_class)
        self._lock = threading.Lock()
        self._rows: list[TrialRow] = []
        self._params: list[str] = []
        self._summaries: Sequence[TrialSummary] = []
        self._description: TuningJobDescription = {}
        self._closed = threading.Event()
        self.refresh()
        self._thread: threading.Thread | None = None
        if follow and self._description.get("HyperParameterTuningJobStatus") not in TERMINAL:
            self._thread = threading.Thread(
                target=self._poll, name=f"sm-tuning-{tuning.name}", daemon=True
            )
            self._thread.start()

    # -- data -------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the job and its trials once and re-render everything."""
        try:
            description = self.tuning.describe()
            summaries = self.tuning.trials()
        except SmMagicsError as exc:
            self.message.value = (
                f"<span style='color:var(--jp-error-color1)'>{escape(str(exc))}</span>"
            )
            return
        rows = trial_rows(summaries, description, self.tuning.session.ledger)
        params = sorted({k for row in rows for k in row} - set(BASE_COLUMNS) - set(TAIL_COLUMNS))
        with self._lock:
            self._description, self._summaries = description, summaries
            self._rows, self._params = rows, params
        options = ["objective", "status", "duration_s", "cost_usd", *params]
        if list(self.sort_by.options) != options:
            current = self.sort_by.value
            self.sort_by.options = options
            self.sort_by.value = current if current in options else "objective"
        names = sorted(str(row["trial"]) for row in rows)
        if list(self.trial_picker.options) != names:
            chosen = self.trial_picker.value
            self.trial_picker.options = names
            self.trial_picker.value = chosen if chosen in names else None
        self._render_header()
        self._render_charts()
        self._render_table()
        if self.trial_picker.value:
            self._show_trial_logs()

    def _poll(self) -> None:
        interval = max(1.0, self.tuning.backend.status_poll_interval)
        while not self._closed.wait(interval):
            self.refresh()
            if self._description.get("HyperParameterTuningJobStatus") in TERMINAL:
                return

    def close(self) -> None:
        """Stop polling, then close the widget."""
        self._closed.set()
        super().close()

    # -- rendering --------------------------------------------------------------------------

    def _render_header(self) -> None:
        d = self._description
        self.header.value = no_math(tuning_header_html(d, self._rows, self.tuning.backend_name))
        status = d.get("HyperParameterTuningJobStatus", "")
        self.stop_button.disabled = status in (*TERMINAL, "Stopping")
        # Nothing left to stop: hide the button, as the job widget does.
        self.stop_button.layout.display = "none" if status in TERMINAL else None

    def _render_charts(self) -> None:
        d = self._description
        created = d.get("CreationTime")
        origin = created.timestamp() if created is not None else 0.0
        history = d.get("LocalBestObjectiveHistory", ()) if descriptions.is_local_tuning(d) else ()
        if history:  # [time, objective, trial name] each time the best improved
            best_points = [(float(t) - origin, float(v)) for t, v, *_ in history]
        else:  # SageMaker: the best so far from the finished trials' end times
            best_points = _best_over_time(self._summaries, origin, d)
        curves: dict[str, list[tuple[float, float]]] = {
            str(s["TrainingJobName"])[len(self.tuning.name) + 1 :].split("-")[0]: [
                (float(step), float(value)) for step, value, *_ in s.get("LocalObjectiveSeries", ())
            ]
            for s in self._summaries
            if descriptions.is_local_trial(s) and s.get("LocalObjectiveSeries")
        }
        charts = [line_chart_svg("best objective so far", best_points)]
        if curves:
            charts.append(lines_chart_svg("objective by step, per trial", curves))
        # Top-aligned: the per-trial chart is taller, and inline SVGs sit on the baseline.
        self.charts.value = no_math(
            "".join(
                f"<span style='display:inline-block;vertical-align:top;margin-right:8px'>{c}</span>"
                for c in charts
            )
        )

    def _render_table(self) -> None:
        with self._lock:
            rows, params = list(self._rows), list(self._params)
        key = self.sort_by.value or "objective"
        present = [r for r in rows if r.get(key) is not None]
        missing = [r for r in rows if r.get(key) is None]
        descending = self.descending.value
        if key == "objective":
            objective = self._description.get("HyperParameterTuningJobConfig", {}).get(
                "HyperParameterTuningJobObjective", {}
            )
            descending = descending == (objective.get("Type", "Maximize") == "Maximize")
        present.sort(key=lambda r: (str(type(r[key])), r[key]), reverse=descending)
        self.table.value = no_math(trials_table_html(present + missing, params))

    def _show_trial_logs(self) -> None:
        name = self.trial_picker.value
        if not name:
            self.trial_logs.value = ""
            return
        try:
            job = self.tuning.session.job(name)
            events = list(job.iter_log_events())[-LOG_TAIL_LINES:]
        except SmMagicsError as exc:
            self.trial_logs.value = f"<pre style='{_LOG_STYLE}'>{escape(str(exc))}</pre>"
            return
        multi = len({e.host for e in events}) > 1
        text = "\n".join(format_log_line(e, multi) for e in events) or "(no log lines yet)"
        self.trial_logs.value = f"<pre style='{_LOG_STYLE}'>{escape(text)}</pre>"

    # -- actions ----------------------------------------------------------------------------

    def _on_stop(self, _button: object) -> None:
        self.stop_button.disabled = True
        try:
            self.tuning.stop()
        except SmMagicsError as exc:
            self.message.value = escape(str(exc))
            self.stop_button.disabled = False
            return
        self.message.value = "stopping the tuning job and its running trials&hellip;"


def _best_over_time(
    summaries: Sequence[TrialSummary], origin: float, description: TuningJobDescription
) -> list[tuple[float, float]]:
    objective = description.get("HyperParameterTuningJobConfig", {}).get(
        "HyperParameterTuningJobObjective", {}
    )
    maximize = objective.get("Type", "Maximize") == "Maximize"
    finished = sorted(
        (
            s["TrainingEndTime"].timestamp(),
            s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
        )
        for s in summaries
        if s.get("TrainingEndTime") and s.get("FinalHyperParameterTuningJobObjectiveMetric")
    )
    points: list[tuple[float, float]] = []
    best: float | None = None
    for at, value in finished:
        if best is None or (value > best if maximize else value < best):
            best = value
            points.append((at - origin, value))
    return points
