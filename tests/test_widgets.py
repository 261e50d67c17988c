"""The live job widget and its inline SVG charts (no kernel needed: widgets open dummy comms)."""

from __future__ import annotations

import html
import itertools
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sm_magics import display
from sm_magics.api import Job, Session
from sm_magics.backends.results import LogEvent
from sm_magics.charts import HEIGHT, WIDTH, line_chart_svg, lines_chart_svg
from sm_magics.widgets import LOG_TAIL_LINES, JobWidget

TIMEOUT = 90  # only against hangs
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def session(sm_home: Path) -> Session:
    return Session()


@pytest.fixture
def widgets() -> Iterator[list[JobWidget]]:
    """Widgets made by a test; their follower threads are stopped at the end."""
    made: list[JobWidget] = []
    yield made
    for widget in made:
        if widget.follower is not None:
            widget.follower.stop()
            widget.follower.join(30)
        widget.close()


def log_lines(widget: JobWidget) -> list[str]:
    """Return the lines shown in the widget's log view."""
    match = re.search(r"<span>(.*)</span></pre>$", widget.log_view.value, re.S)
    assert match, widget.log_view.value
    return html.unescape(match.group(1)).split("\n")


def polyline_points(svg: str) -> list[list[tuple[float, float]]]:
    """Return the coordinates of every polyline of an SVG document (which must parse)."""
    root = ET.fromstring(svg)
    return [
        [tuple(float(v) for v in pair.split(",")) for pair in line.get("points", "").split()]
        for line in root.iter(f"{SVG_NS}polyline")
    ]


# -- the widget on real jobs -----------------------------------------------------------------


def test_widget_follows_a_job_to_the_end(session: Session, widgets: list[JobWidget]) -> None:
    job = session.train(
        "import time\n"
        "for i in range(40):\n"
        "    print(f'step {i} loss={1 / (i + 1):.4f} acc={i / 40:.3f}')\n"
        "    time.sleep(0.01)\n",
        name="widget-job",
        metric_definitions={"loss": r"loss=([0-9.]+)", "acc": r"acc=([0-9.]+)"},
    )
    widget = JobWidget(job)
    widgets.append(widget)
    widget.wait_idle(TIMEOUT)
    assert widget.follower is not None
    assert not widget.follower.is_alive() and widget.follower.error is None

    lines = log_lines(widget)
    assert lines[-1] == "Training job completed"
    assert "step 39 loss=0.0250 acc=0.975" in lines
    steps = [line for line in lines if line.startswith("step ")]
    assert steps == [line for line in job.logs().splitlines() if line.startswith("step ")]

    # One chart per metric, each an SVG with one polyline through every point.
    charts = widget.charts.value
    assert charts.count("<svg") == 2
    assert charts.count("<polyline") == 2
    svgs = re.findall(r"<svg.*?</svg>", charts, re.S)
    for svg in svgs:
        (points,) = polyline_points(svg)
        assert len(points) == 40
    assert "loss = 0.025" in charts and "acc = 0.975" in charts

    header = widget.header.value
    assert "widget-job" in header and "Completed" in header
    assert re.search(r"\$\d", header), header  # the cost
    assert "model.tar.gz" in header
    assert widget.stop_button.disabled


def test_widget_stop_button_stops_a_running_job(session: Session, widgets: list[JobWidget]) -> None:
    job = session.train("import time\nprint('sleeping')\ntime.sleep(120)\n", name="stop-me")
    widget = JobWidget(job)
    widgets.append(widget)
    assert not widget.stop_button.disabled
    assert "InProgress" in widget.header.value

    widget.stop_button.click()

    assert widget.stop_button.disabled
    assert "stop requested" in widget.message.value
    assert job.status in {"Stopping", "Stopped"}
    widget.wait_idle(TIMEOUT)
    assert widget.follower is not None and not widget.follower.is_alive()
    assert job.status == "Stopped"
    assert "Stopped" in widget.header.value
    assert widget.stop_button.disabled


def test_stop_button_stays_disabled_when_a_stale_status_arrives(
    session: Session, widgets: list[JobWidget]
) -> None:
    """The follower may render a status it read just before the click: still disabled."""
    job = session.train("import time\ntime.sleep(120)\n")
    widget = JobWidget(job, follow=False)
    widgets.append(widget)
    stale = job.describe()
    assert stale["TrainingJobStatus"] == "InProgress"
    widget.stop_button.click()
    widget._on_status(stale)  # what the follower thread does with its last poll
    assert widget.stop_button.disabled
    job.wait(TIMEOUT, poll=0.05)
    widget._on_status(job.describe())
    assert widget.stop_button.disabled and "Stopped" in widget.header.value


def test_widget_log_tail_is_bounded(session: Session, widgets: list[JobWidget]) -> None:
    job = session.train("for i in range(2000):\n    print(f'line {i}')\n", name="chatty")
    widget = JobWidget(job)
    widgets.append(widget)
    widget.wait_idle(TIMEOUT)
    assert job.status == "Completed"
    lines = log_lines(widget)
    assert len(lines) == LOG_TAIL_LINES
    assert lines == job.logs().splitlines()[-LOG_TAIL_LINES:]
    assert lines[-2:] == ["line 1999", "Training job completed"]


def test_widget_of_a_finished_job_and_without_following(
    session: Session, widgets: list[JobWidget]
) -> None:
    job = session.train("raise SystemExit('<b>not bold</b>')\n", name="failed-widget")
    job.wait(TIMEOUT, poll=0.05)
    widget = JobWidget(job, follow=False)
    widgets.append(widget)
    assert widget.follower is None
    header = widget.header.value
    assert "Failed" in header
    assert "<b>not bold</b>" not in header and "&lt;b&gt;not bold&lt;/b&gt;" in header
    assert widget.stop_button.disabled
    assert widget.charts.value == ""  # no metrics, no charts
    assert repr(widget) == "<JobWidget failed-widget>"


def test_widget_on_several_hosts_prefixes_lines(session: Session, widgets: list[JobWidget]) -> None:
    job = session.train("print('from every host')\n", instance_count=2)
    widget = JobWidget(job)
    widgets.append(widget)
    widget.wait_idle(TIMEOUT)
    lines = log_lines(widget)
    assert "[algo-1] from every host" in lines and "[algo-2] from every host" in lines
    assert "\u00d72" in widget.header.value  # the panel writes the same multiplication sign


def test_stop_button_shows_an_error_instead_of_raising(
    session: Session, widgets: list[JobWidget], monkeypatch: pytest.MonkeyPatch
) -> None:
    job = session.train("import time\ntime.sleep(120)\n")
    widget = JobWidget(job, follow=False)
    widgets.append(widget)

    def refuse() -> Job:
        raise RuntimeError("<denied>")

    with monkeypatch.context() as patched:
        patched.setattr(job, "stop", refuse)
        widget.stop_button.click()
    assert "&lt;denied&gt;" in widget.message.value
    assert not widget.stop_button.disabled  # one can try again
    job.stop()
    job.wait(TIMEOUT, poll=0.05)


# -- display outside and inside a kernel -----------------------------------------------------


def test_mimebundle_outside_a_kernel_is_text_and_a_snapshot(session: Session) -> None:
    job = session.train("pass", name="plain-bundle")
    job.wait(TIMEOUT, poll=0.05)
    assert not display.widgets_available()
    bundle = job._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    # The snapshot: what a notebook reopened without its kernel shows, and the way back.
    assert "plain-bundle" in bundle["text/html"] and "Completed" in bundle["text/html"]
    assert "%sm_watch plain-bundle" in bundle["text/html"]
    assert "mathjax_ignore" in bundle["text/html"]
    assert bundle["text/plain"] == repr(job) == "<Job plain-bundle (local) Completed/Completed>"
    assert not any(t.name == "sm-magics-follow-plain-bundle" for t in threading.enumerate())


def test_mimebundle_in_a_kernel_adds_the_widget(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = session.train("pass", name="widget-bundle")
    job.wait(TIMEOUT, poll=0.05)
    monkeypatch.setattr(display, "widgets_available", lambda: True)
    bundle = job._repr_mimebundle_()
    assert bundle["text/plain"] == repr(job)
    assert "%sm_watch widget-bundle" in bundle["text/html"]  # the fallback travels along
    assert WIDGET_MIME in bundle
    assert bundle[WIDGET_MIME]["model_id"]
    for thread in threading.enumerate():
        if thread.name == "sm-magics-follow-widget-bundle":
            thread.join(30)  # the job has ended: its follower ends after one read


def test_widgets_unavailable_without_ipython_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    assert display.widgets_available() is False

    class FakeKernelShell:
        kernel = object()

    monkeypatch.setattr(IPython, "get_ipython", lambda: FakeKernelShell())
    assert display.widgets_available() is True


# -- charts ------------------------------------------------------------------------------------


def test_chart_without_points_is_an_empty_frame() -> None:
    svg = line_chart_svg("loss", [])
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    assert (root.get("width"), root.get("height")) == (str(WIDTH), str(HEIGHT))
    assert polyline_points(svg) == []
    texts = [t.text for t in root.iter(f"{SVG_NS}text")]
    assert texts == ["loss"]


def test_chart_with_one_point() -> None:
    svg = line_chart_svg("acc", [(3.0, 0.5)])
    (points,) = polyline_points(svg)
    assert len(points) == 1
    x, y = points[0]
    assert 0 <= x <= WIDTH and 0 <= y <= HEIGHT
    assert "acc = 0.5" in svg


def test_a_single_point_is_a_dot_on_a_sane_axis() -> None:
    svg = line_chart_svg("acc", [(3.0, 0.96)])
    root = ET.fromstring(svg)
    (dot,) = root.iter(f"{SVG_NS}circle")  # a polyline of one point draws nothing
    assert float(dot.get("r") or 0) > 0
    labels = [t.text for t in root.iter(f"{SVG_NS}text")]
    assert "acc = 0.96" in labels
    # The axis hugs the value (it once read 0.46 to 1.46 around 0.96).
    assert "1.056" in labels and "0.864" in labels


def _axis_labels(svg: str) -> list[tuple[float, str]]:
    """The x axis's labels (the texts on the chart's bottom line), left to right."""
    root = ET.fromstring(svg)
    bottom = [t for t in root.iter(f"{SVG_NS}text") if float(t.get("y") or 0) == HEIGHT - 4]
    return sorted((float(t.get("x") or 0), t.text or "") for t in bottom)


def test_the_time_axis_reads_from_the_start_to_the_last_point() -> None:
    """Both ends are labelled: the job's start and the last value's time (was "7.0s" alone)."""
    svg = line_chart_svg("loss", [(2.0, 0.9), (4.5, 0.5), (7.0, 0.2)])
    assert [text for _, text in _axis_labels(svg)] == ["0s", "7.0s"]
    (points,) = polyline_points(svg)
    rect = next(ET.fromstring(svg).iter(f"{SVG_NS}rect"))
    left, width = float(rect.get("x") or 0), float(rect.get("width") or 0)
    # The curve began 2 s after the start: it starts 2/7 of the way along, not at the edge.
    assert points[0][0] == pytest.approx(left + width * 2 / 7, abs=0.1)
    assert points[-1][0] == pytest.approx(left + width, abs=0.1)
    long = line_chart_svg("loss", [(60.0, 1.0), (7_500.0, 0.5)])
    assert [text for _, text in _axis_labels(long)] == ["0s", "2h 05m"]


def test_overlaid_curves_label_both_ends_of_their_axis() -> None:
    """Tuning's per-trial curves and %sm_compare's runs: both ends (was the end alone)."""
    trials = {"t-1": [(1.0, 0.5), (12.0, 0.9)], "t-2": [(1.0, 0.4), (6.0, 0.7)]}
    svg = lines_chart_svg("objective by step, per trial", trials)
    root = ET.fromstring(svg)
    height = float(root.get("height") or 0)
    bottom = sorted(
        (float(t.get("x") or 0), t.text or "")
        for t in root.iter(f"{SVG_NS}text")
        if float(t.get("y") or 0) == height - 4
    )
    assert [text for _, text in bottom] == ["step 1", "step 12"]
    runs = {"run-a": [(30.0, 0.2), (185.0, 0.1)]}
    compared = ET.fromstring(lines_chart_svg("loss", runs, x_axis="seconds"))
    texts = [t.text for t in compared.iter(f"{SVG_NS}text")]
    assert "0s" in texts and "3m 05s" in texts  # from the runs' start, in elapsed time
    fast = ET.fromstring(lines_chart_svg("acc", {"r": [(0.0, 1.0), (0.03, 2.0)]}, x_axis="seconds"))
    assert "30ms" in [t.text for t in fast.iter(f"{SVG_NS}text")]  # was "0.0s"
    instant = lines_chart_svg("acc", {"r": [(0.0, 1.0), (0.0, 2.0)]}, x_axis="seconds")
    labels = [t.text for t in ET.fromstring(instant).iter(f"{SVG_NS}text")]
    assert "0s" in labels and "1.0s" in labels and "-1.0s" not in labels


def test_overlaid_curves_end_labels_fit_inside_the_chart() -> None:
    """Run names as end labels: long ones cut in the middle, all within the chart's width."""
    long_name = "a-very-long-experiment-run-name-20261202-1"
    runs = {
        "churn-small": [(0.0, 0.5), (10.0, 0.6)],
        "churn-large": [(0.0, 0.9), (10.0, 0.95)],
        long_name: [(0.0, 0.7), (8.0, 0.8)],
    }
    root = ET.fromstring(lines_chart_svg("accuracy", runs, x_axis="seconds"))
    width = float(root.get("width") or 0)
    shown: dict[str, tuple[float, str]] = {}  # full name (the tooltip) -> (x, text shown)
    for text in root.iter(f"{SVG_NS}text"):
        title = text.find(f"{SVG_NS}title")
        if title is not None:
            shown[title.text or ""] = (float(text.get("x") or 0), title.tail or "")
    assert shown["churn-small"][1] == "churn-small" and shown["churn-large"][1] == "churn-large"
    cut = shown[long_name][1]
    assert "…" in cut and cut.startswith("a-very") and cut.endswith("1202-1")
    for x, label in shown.values():
        assert x + 6.5 * len(label) <= width


def test_a_single_point_keeps_its_dot_value_and_time_axis() -> None:
    svg = line_chart_svg("acc", [(3.0, 0.96)])
    assert [text for _, text in _axis_labels(svg)] == ["0s", "3.0s"]
    assert next(ET.fromstring(svg).iter(f"{SVG_NS}circle")) is not None
    assert "acc = 0.96" in svg
    at_start = line_chart_svg("acc", [(0.0, 0.96)])
    assert [text for _, text in _axis_labels(at_start)] == ["0s", "1.0s"]


def test_chart_with_many_points_spans_the_frame() -> None:
    data = [(float(i), (i - 50) ** 2 / 100) for i in range(101)]
    svg = line_chart_svg("loss <train>", data)
    root = ET.fromstring(svg)
    rect = next(root.iter(f"{SVG_NS}rect"))
    left, top = float(rect.get("x")), float(rect.get("y"))
    right, bottom = left + float(rect.get("width")), top + float(rect.get("height"))
    (points,) = polyline_points(svg)
    assert len(points) == 101
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    assert xs == sorted(xs)
    assert (xs[0], xs[-1]) == (left, right)
    assert (min(ys), max(ys)) == (top, bottom)  # the largest value is drawn at the top
    assert ys[0] == top and ys[50] == bottom
    assert "loss &lt;train&gt; = 25" in svg  # title escaped, last value shown


def test_chart_ignores_non_finite_values() -> None:
    """A diverging loss logs ``nan``/``inf``; the curve must still draw (no "nan" points)."""
    svg = line_chart_svg("loss", [(0.0, 1.0), (1.0, float("nan")), (2.0, float("inf")), (3.0, 0.5)])
    (points,) = polyline_points(svg)
    assert len(points) == 2
    assert all(v == v for pair in points for v in pair)


def test_chart_of_a_large_constant_value() -> None:
    svg = line_chart_svg("tokens", [(0.0, 1e17), (1.0, 1e17)])
    (points,) = polyline_points(svg)
    assert len(points) == 2


@given(
    title=st.text(max_size=20),
    data=st.lists(st.tuples(st.floats(-1e6, 1e6), st.floats(-1e12, 1e12)), max_size=30),
)
def test_chart_is_always_well_formed(title: str, data: list[tuple[float, float]]) -> None:
    title = "".join(c for c in title if c.isprintable())  # XML 1.0 forbids control characters
    svg = line_chart_svg(title, data)
    lines = polyline_points(svg)
    assert len(lines) == (1 if data else 0)
    for points in lines:
        assert len(points) == len(data)
        assert all(0 <= x <= WIDTH and 0 <= y <= HEIGHT for x, y in points)


@pytest.mark.parametrize(("count", "shown"), [(2, "[algo-1] first"), (1, "first")])
def test_a_job_of_several_hosts_names_the_host_from_its_first_line(
    session: Session, widgets: list[JobWidget], count: int, shown: str
) -> None:
    # The widget knows the host count from the job's description, before a second host
    # writes (once it prefixed only after seeing a second host, so the first line had none).
    job = session.process("print('done')\n", name=f"hosts-{count}", instance_count=count)
    widget = JobWidget(job, follow=False)
    widgets.append(widget)
    widget._on_events([LogEvent(timestamp=1, host="algo-1", message="first")])
    assert log_lines(widget) == [shown]


def test_widget_of_a_processing_job_names_its_outputs_and_hosts(
    session: Session, widgets: list[JobWidget]
) -> None:
    script = (
        "import sys\nfrom pathlib import Path\n"
        "Path(sys.argv[1]).mkdir(parents=True, exist_ok=True)\n"
        "Path(sys.argv[1], 'a.txt').write_text('x')\nprint('processed', flush=True)\n"
    )
    job = session.process(
        script,
        name="widget-processing",
        outputs={"result": "output/result"},
        arguments=["/opt/ml/processing/output/result"],
        instance_count=2,
    )
    widget = JobWidget(job)
    widgets.append(widget)
    widget.wait_idle(TIMEOUT)
    lines = log_lines(widget)
    assert "[algo-1] processed" in lines and "[algo-2] processed" in lines
    assert lines[-1] == "[algo-1] Processing job completed"
    header = widget.header.value
    assert "Completed" in header and "\u00d72" in header
    assert f"output result: <code>{job.outputs.result}</code>" in header
    assert widget.deploy_button.layout.display == "none"  # no model to deploy


def test_compared_runs_that_logged_in_one_instant_are_drawn_by_step() -> None:
    """A short script logs all its values in the same second: a time axis drew vertical lines."""
    from sm_magics.display.runs import CompareView

    instant = {
        "accuracy": {"a": [(0.0, 0.5), (0.0, 0.6), (0.0, 0.7)], "b": [(0.0, 0.4), (0.0, 0.9)]}
    }
    html = CompareView([], instant)._repr_html_()
    assert "step 1" in html and "step 3" in html and "1.0s" not in html
    timed = {"accuracy": {"a": [(0.0, 0.5), (5.0, 0.6)]}}
    html = CompareView([], timed)._repr_html_()
    assert "5.0s" in html and "step" not in html


def test_end_labels_of_converging_curves_do_not_overlap() -> None:
    """Tuning trials that reach the same objective end at one height: their labels spread."""
    trials = {f"00{i}": [(0.0, 0.1 * i), (7.0, 1.0 - 0.001 * i)] for i in range(1, 5)}
    trials["009"] = [(0.0, 0.05), (7.0, 0.2)]  # far below: keeps its own height
    root = ET.fromstring(lines_chart_svg("objective by step, per trial", trials))
    height = float(root.get("height") or 0)
    ys = {}
    for text in root.iter(f"{SVG_NS}text"):
        title = text.find(f"{SVG_NS}title")
        if title is not None:
            ys[title.text] = float(text.get("y") or 0)
    near = sorted(ys[name] for name in ("001", "002", "003", "004"))
    assert all(b - a >= 11 for a, b in itertools.pairwise(near))
    assert all(0 < y <= height for y in ys.values())
    dots = {float(c.get("cy") or 0) for c in root.iter(f"{SVG_NS}circle")}
    assert min(abs(ys["009"] - 3 - cy) for cy in dots) < 0.2  # beside its own dot
