"""The live job widget: status, elapsed time, cost, metric curves, log tail, Stop.

Why widgets and not ``print``: output printed from a background thread lands in whatever
cell runs at that moment (ipywidgets#2358), so a follower thread writes only into widget
models, whose updates go to this widget wherever it is. One :class:`~sm_magics.logs.
LogFollower` thread per widget; it ends when the job does.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from html import escape
from typing import TYPE_CHECKING

import ipywidgets as widgets

from sm_magics.backends import kinds, statuses
from sm_magics.backends.results import LogEvent
from sm_magics.charts import line_chart_svg
from sm_magics.display import NO_MATH_CLASSES, STATUS_COLOURS, format_log_line
from sm_magics.display.endpoints import endpoint_header_html
from sm_magics.display.jobs import job_header_html
from sm_magics.errors import NotFound, SmMagicsError
from sm_magics.logs import LogFollower
from sm_magics.metrics import MetricParser, MetricPoint, metric_definitions

if TYPE_CHECKING:
    from sm_magics.api import Job
    from sm_magics.backends.descriptions import EndpointDescription
    from sm_magics.endpoint import Endpoint

#: Lines kept in the widget's log view; the full log stays on disk / in CloudWatch.
LOG_TAIL_LINES = 400
#: Points kept per metric curve.
MAX_POINTS = 2000

_LOG_STYLE = (
    "max-height:16em;overflow:auto;display:flex;flex-direction:column-reverse;"
    "margin:0;padding:4px 6px;font-size:12px;line-height:1.35;"
    "background:var(--jp-layout-color2, #f5f5f5);color:var(--jp-content-font-color1, #222);"
    "border:1px solid var(--jp-border-color2, #ddd)"
)


class JobWidget(widgets.VBox):  # type: ignore[misc]
    """A live view of one job, updated by its own follower thread."""

    def __init__(self, job: Job, *, follow: bool = True) -> None:
        self.job = job
        self.header = widgets.HTML()
        self.charts = widgets.HTML()
        self.log_view = widgets.HTML()
        self.stop_button = widgets.Button(
            description="Stop",
            icon="stop",
            button_style="warning",
            tooltip="Stop this training job (SIGTERM, then SIGKILL after a grace period)",
            layout=widgets.Layout(width="auto"),
        )
        self.stop_button.on_click(self._on_stop)
        self.deploy_button = widgets.Button(
            description="Deploy",
            icon="rocket",
            tooltip="Serve this job's model as an endpoint (%sm_deploy)",
            layout=widgets.Layout(width="auto", display="none"),
        )
        self.deploy_button.on_click(self._on_deploy)
        self.message = widgets.HTML()
        #: Holds the endpoint widget once Deploy was clicked.
        self.deployed = widgets.VBox()
        super().__init__(
            [
                self.header,
                widgets.HBox([self.stop_button, self.deploy_button, self.message]),
                self.charts,
                self.log_view,
                self.deployed,
            ],
            layout=widgets.Layout(border="1px solid var(--jp-border-color2, #ddd)", padding="6px"),
        )
        for css_class in NO_MATH_CLASSES.split():
            self.add_class(css_class)  # JupyterLab typesets $...$ pairs in outputs
        self._lock = threading.Lock()
        #: Set by the Stop button: a status the follower read before the click must not
        #: re-enable the button.
        self._stop_requested = False
        #: When the last line arrived (or the widget started): the 30 s silence note.
        self._last_line_at = time.monotonic()
        #: The Stop button was clicked: the message follows the job to Stopped.
        self._stopping_note = False
        #: The status of the endpoint the Deploy button made (None: none made yet).
        self._endpoint_status: str | None = None
        self._lines: deque[str] = deque(maxlen=LOG_TAIL_LINES)
        self._hosts: set[str] = set()
        self._series: dict[str, list[MetricPoint]] = {}
        self._description: Mapping[str, object] = job.describe()
        #: Several hosts write: every line says which, from the first one (not only once a
        #: second host's line came, which left the first lines unprefixed).
        self._multi_host = kinds.resources_of(self._description)[1] > 1
        self._start_ms: int | None = None
        definitions = metric_definitions(self._description)
        self._parser = MetricParser(definitions)
        self._series = {name: [] for name in definitions}
        self._render_status(self._description)
        self._render_charts()
        self.follower: LogFollower | None = None
        if follow:
            self.follower = LogFollower(
                job,
                self._on_events,
                self._on_status,
                tail_lines=LOG_TAIL_LINES,  # a long log: its end; follower.tail.earlier()
                on_skipped=self._on_skipped,
            )
            self.follower.start()

    # -- follower callbacks (background thread) ---------------------------------------------

    def _on_events(self, events: list[LogEvent]) -> None:
        self._last_line_at = time.monotonic()
        with self._lock:
            for event in events:
                self._hosts.add(event.host)
                if self._start_ms is None:
                    self._start_ms = event.timestamp
                for point in self._parser.parse(event.timestamp, event.message):
                    series = self._series.setdefault(point.name, [])
                    series.append(point)
                    del series[:-MAX_POINTS]
            multi = self._multi_host or len(self._hosts) > 1
            self._lines.extend(format_log_line(e, multi) for e in events)
            text = "\n".join(self._lines)
        self.log_view.value = f"<pre style='{_LOG_STYLE}'><span>{escape(text)}</span></pre>"
        if self._parser.patterns:
            self._render_charts()

    def _on_skipped(self, events: list[LogEvent]) -> None:
        """Lines before the shown tail: only their metric points are kept."""
        with self._lock:
            for event in events:
                if self._start_ms is None:
                    self._start_ms = event.timestamp
                for point in self._parser.parse(event.timestamp, event.message):
                    series = self._series.setdefault(point.name, [])
                    series.append(point)
                    del series[:-MAX_POINTS]

    def _on_status(self, description: Mapping[str, object]) -> None:
        self._description = description
        self._render_status(description)

    # -- rendering --------------------------------------------------------------------------

    def _render_status(self, description: Mapping[str, object]) -> None:
        status = kinds.status_of(description)
        finished = status in statuses.TERMINAL_STATUSES
        silent = time.monotonic() - self._last_line_at
        self.header.value = job_header_html(
            description, self.job.backend_name, silent_for=None if finished else silent
        )
        if finished:
            self._stop_requested = False
            if status == statuses.STOPPED and self._stopping_note:
                stamp = datetime.now(tz=timezone.utc).strftime("%H:%M:%S")
                self.message.value = f"<i>stopped at {stamp} UTC</i>"
                self._stopping_note = False
        elif status == statuses.STOPPING and self._stopping_note:
            self.message.value = "<i>stopping…</i>"
        self.stop_button.disabled = finished or status == statuses.STOPPING or self._stop_requested
        # Nothing left to stop: hide the button rather than leave a greyed-out one.
        self.stop_button.layout.display = "none" if finished else None
        self._render_deploy(description)

    def _render_deploy(self, description: Mapping[str, object] | None = None) -> None:
        """Offer Deploy on a completed job with a model, unless its endpoint is up."""
        description = description or self._description
        model = kinds.model_uri_of(description)
        deployable = (
            self.job.kind == "training"
            and kinds.status_of(description) == statuses.COMPLETED
            and bool(model)
            and self._endpoint_status in (None, statuses.DELETED)
        )
        self.deploy_button.layout.display = None if deployable else "none"
        self.deploy_button.disabled = False

    def _render_charts(self) -> None:
        with self._lock:
            if not self._series:
                self.charts.value = ""
                return
            origin = self._start_ms or min(
                (s[0].timestamp for s in self._series.values() if s), default=0
            )
            svgs = [
                line_chart_svg(name, [((p.timestamp - origin) / 1000, p.value) for p in points])
                for name, points in sorted(self._series.items())
            ]
        self.charts.value = (
            "<div style='display:flex;flex-wrap:wrap;gap:8px'>" + "".join(svgs) + "</div>"
        )

    def _on_stop(self, _button: object) -> None:
        self._stop_requested = True
        self.stop_button.disabled = True
        try:
            self.job.stop()
        except Exception as exc:  # noqa: BLE001 - show it in the widget, not a traceback
            self.message.value = f"<span style='color:red'>{escape(str(exc))}</span>"
            self._stop_requested = False
            self.stop_button.disabled = False
            return
        stamp = datetime.now(tz=timezone.utc).strftime("%H:%M:%S")
        self._stopping_note = True
        self.message.value = f"<i>stop requested at {stamp} UTC</i>"

    def _on_deploy(self, _button: object) -> None:
        self.deploy_button.disabled = True
        try:
            endpoint = self.job.session.deploy(self.job.name)
        except SmMagicsError as exc:
            self.message.value = f"<span style='color:red'>{escape(str(exc))}</span>"
            self.deploy_button.disabled = False
            return
        self.deploy_button.layout.display = "none"
        self._endpoint_status = "Creating"
        self.message.value = f"<i>deploying as endpoint {escape(endpoint.name)}…</i>"
        self.deployed.children = (EndpointWidget(endpoint, on_status=self._on_endpoint),)

    def _on_endpoint(self, name: str, status: str) -> None:
        """Follow the deployed endpoint's status; offer Deploy again once it is gone."""
        self._endpoint_status = status
        label = escape(name)
        if status == statuses.DELETED:
            self.message.value = f"<i>endpoint {label} was deleted</i>"
            self.deployed.children = ()
        elif status == "InService":
            self.message.value = f"<i>deployed as endpoint {label}</i>"
        elif status == "Failed":
            colour = STATUS_COLOURS["Failed"]
            self.message.value = f"<span style='color:{colour}'>endpoint {label} failed</span>"
        else:
            self.message.value = f"<i>endpoint {label}: {escape(status)}…</i>"
        self._render_deploy()

    def __repr__(self) -> str:
        # ipywidgets' default repr serialises every trait: keep it cheap (anywidget does too).
        return f"<JobWidget {self.job.name}>"

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Block until the follower thread ended (tests use this)."""
        if self.follower is not None:
            deadline = time.monotonic() + timeout
            self.follower.join(max(0.0, deadline - time.monotonic()))


#: Seconds between two refreshes of an endpoint widget.
ENDPOINT_POLL_SECONDS = 1.0


class EndpointWidget(widgets.VBox):  # type: ignore[misc]
    """A live view of one endpoint: status, URL, variants, traffic, cost, Invoke, Delete.

    One daemon thread refreshes it about once a second while the endpoint lives; it ends
    when the endpoint is deleted or failed.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        follow: bool = True,
        on_status: Callable[[str, str], None] | None = None,
    ) -> None:
        self.endpoint = endpoint
        #: Told ``(name, status)`` whenever the status changes (the job widget's Deploy).
        self.on_status = on_status
        self._status: str | None = None
        self.header = widgets.HTML()
        self.variants_view = widgets.HTML()
        self.payload = widgets.Text(
            placeholder="[[5.1, 3.5, 1.4, 0.2]]  (JSON or CSV)",
            layout=widgets.Layout(width="24em"),
        )
        self.invoke_button = widgets.Button(
            description="Invoke", icon="play", layout=widgets.Layout(width="auto")
        )
        self.delete_button = widgets.Button(
            description="Delete",
            icon="trash",
            button_style="danger",
            tooltip="Delete this endpoint (click twice)",
            layout=widgets.Layout(width="auto"),
        )
        self.result = widgets.HTML()
        self.invoke_button.on_click(self._on_invoke)
        self.delete_button.on_click(self._on_delete)
        self._confirming = False
        super().__init__(
            [
                self.header,
                self.variants_view,
                widgets.HBox([self.payload, self.invoke_button, self.delete_button]),
                self.result,
            ],
            layout=widgets.Layout(border="1px solid var(--jp-border-color2, #ddd)", padding="6px"),
        )
        for css_class in NO_MATH_CLASSES.split():
            self.add_class(css_class)
        self._stop = threading.Event()
        self.refresh()
        self.poller: threading.Thread | None = None
        if follow:
            self.poller = threading.Thread(
                target=self._poll, daemon=True, name=f"sm-magics-endpoint-{endpoint.name}"
            )
            self.poller.start()

    def _poll(self) -> None:
        while not self._stop.wait(ENDPOINT_POLL_SECONDS):
            if not self.refresh():
                return

    def refresh(self) -> bool:
        """Redraw from a fresh describe; return whether there is anything left to follow."""
        try:
            description = self.endpoint.describe()
        except NotFound:
            self._render_gone()
            return False
        except Exception as exc:  # noqa: BLE001 - shown in the widget, retried next tick
            self.result.value = f"<span style='color:red'>{escape(str(exc))}</span>"
            return True
        if description["EndpointStatus"] == statuses.DELETED:  # its --ttl passed
            self._render_gone()
            return False
        self._render(description)
        return description["EndpointStatus"] not in ("Failed",)

    def _set_status(self, status: str) -> None:
        if status != self._status:
            self._status = status
            if self.on_status is not None:
                self.on_status(self.endpoint.name, status)

    def _render(self, description: EndpointDescription) -> None:
        status = description["EndpointStatus"]
        self.header.value = endpoint_header_html(description, self.endpoint.backend_name)
        cells = "".join(
            "<tr>"
            + "".join(
                f"<td style='padding:1px 8px'>{escape(str(c))}</td>"
                for c in (
                    v.get("VariantName"),
                    f"{v.get('CurrentWeight', 0):g}",
                    f"{v.get('CurrentInstanceCount', 0)}/{v.get('DesiredInstanceCount', 0)}",
                    (v.get("InstanceType") or "")
                    + (f" ({v['ServingDefaults']} defaults)" if v.get("ServingDefaults") else ""),
                    v.get("Invocations", 0),
                    v.get("Errors", 0),
                    _ms(v.get("LatencyP50Ms")),
                    _ms(v.get("LatencyP99Ms")),
                )
            )
            + "</tr>"
            for v in description["ProductionVariants"]
        )
        head = "".join(
            f"<th style='padding:1px 8px;text-align:left'>{h}</th>"
            for h in (
                "variant",
                "weight",
                "instances",
                "type",
                "invocations",
                "errors",
                "p50",
                "p99",
            )
        )
        self.variants_view.value = f"<table style='font-size:12px'><tr>{head}</tr>{cells}</table>"
        live = status in ("InService", "Updating")
        self.invoke_button.disabled = not live
        self.delete_button.disabled = status in ("Deleting",)
        self._set_status(status)

    def _render_gone(self) -> None:
        self.header.value = (
            f"<div style='font-size:13px'><b>{escape(self.endpoint.name)}</b> "
            f"<span style='color:{STATUS_COLOURS['Deleted']};font-weight:600'>Deleted</span>"
            "</div>"
        )
        self.variants_view.value = ""
        self.invoke_button.disabled = True
        self.delete_button.layout.display = "none"
        self.payload.layout.display = "none"
        self.invoke_button.layout.display = "none"
        self._set_status(statuses.DELETED)

    def _on_invoke(self, _button: object) -> None:
        text = self.payload.value.strip()
        if not text:
            self.result.value = "<i>type a payload first, e.g. [[1, 2, 3]]</i>"
            return
        try:
            answer = self.endpoint.invoke(text)
        except SmMagicsError as exc:
            self.result.value = f"<span style='color:red'>{escape(str(exc))}</span>"
            return
        self.result.value = f"<code>{escape(str(answer))[:2000]}</code>"

    def _on_delete(self, _button: object) -> None:
        if not self._confirming:
            self._confirming = True
            self.delete_button.description = "Really delete?"
            return
        self.delete_button.disabled = True
        try:
            self.endpoint.delete()
        except SmMagicsError as exc:
            self.result.value = f"<span style='color:red'>{escape(str(exc))}</span>"
            self.delete_button.disabled = False
            return
        finally:
            self._confirming = False
            self.delete_button.description = "Delete"
        self._stop.set()
        self._render_gone()

    def close(self) -> None:
        """Stop refreshing and close the widget."""
        self._stop.set()
        super().close()

    def __repr__(self) -> str:
        return f"<EndpointWidget {self.endpoint.name}>"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{float(value):.1f} ms"
