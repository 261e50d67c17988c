"""Tuning trials as rows: what ``tuning.results()``, the tuning widget and its table show.

One place turns a trial summary (``HyperParameterTrainingJobSummary``, the same shape from
both backends) into a row, so the DataFrame, the widget's table and the text repr agree.
A trial's cost is its own training job's, asked of its ledger row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from html import escape
from typing import TYPE_CHECKING, TypeAlias

from sm_magics.backends import descriptions
from sm_magics.durations import format_duration

if TYPE_CHECKING:
    from sm_magics.backends.descriptions import TrialSummary, TuningJobDescription
    from sm_magics.json_types import JsonValue
    from sm_magics.ledger import Ledger

#: One trial as a row: :data:`BASE_COLUMNS`, each tuned hyperparameter by its name (with
#: its JSON type back), then :data:`TAIL_COLUMNS`. Flat, so it is a DataFrame row as is;
#: each value is JSON (a trial name, a status, numbers, ``None``), read with a check.
TrialRow: TypeAlias = "dict[str, JsonValue]"

#: The keys every row has, before the tuned hyperparameters'.
BASE_COLUMNS = ("trial", "status", "objective")
TAIL_COLUMNS = ("duration_s", "cost_usd", "early_stopped", "failure")


def failure_line(reason: str | None) -> str | None:
    """Return the line of a failure reason that says what went wrong.

    The local backend's reasons quote the script's own error as ``ErrorMessage "..."``
    (as SageMaker's AlgorithmError does); that line is what a table needs, not the
    exit-code boilerplate around it.
    """
    if not reason:
        return None
    for line in reason.splitlines():
        stripped = line.strip()
        if stripped.startswith("ErrorMessage"):
            return stripped.removeprefix("ErrorMessage").strip().strip('"') or stripped
    return reason.strip().splitlines()[0] if reason.strip() else None


def _seconds(summary: TrialSummary) -> float | None:
    start = summary.get("TrainingStartTime") or summary.get("CreationTime")
    if start is None:
        return None
    end = summary.get("TrainingEndTime") or datetime.now(tz=timezone.utc)
    return float((end - start).total_seconds())


def trial_rows(
    summaries: Sequence[TrialSummary], description: TuningJobDescription, ledger: Ledger
) -> list[TrialRow]:
    """Return one dict per trial, best objective first (unfinished and failed last)."""
    from sm_magics.display.jobs import JobRow
    from sm_magics.tuning.ranges import decode_value

    config = description.get("HyperParameterTuningJobConfig")
    objective = config.get("HyperParameterTuningJobObjective") if config else None
    maximize = (objective or {}).get("Type", "Maximize") == "Maximize"
    rows: list[TrialRow] = []
    for summary in summaries:
        metric = summary.get("FinalHyperParameterTuningJobObjectiveMetric")
        record = ledger.get_job(summary["TrainingJobName"])
        cost = JobRow.from_record(record).cost if record is not None else None
        row: TrialRow = {
            "trial": summary["TrainingJobName"],
            "status": summary["TrainingJobStatus"],
            "objective": metric.get("Value") if metric else None,
        }
        for key, value in sorted((summary.get("TunedHyperParameters") or {}).items()):
            row[key] = decode_value(value)
        row["duration_s"] = _seconds(summary)
        row["cost_usd"] = cost
        row["early_stopped"] = (
            descriptions.is_local_trial(summary) and summary.get("LocalEarlyStopped", False)
        ) or "early stopping" in (summary.get("FailureReason") or "").lower()
        row["failure"] = (
            failure_line(summary.get("FailureReason"))
            if summary["TrainingJobStatus"] == "Failed"
            else None
        )
        rows.append(row)

    def order(row: TrialRow) -> tuple[int, float]:
        value = _number(row["objective"])
        if value is None:
            return (1, 0.0)
        return (0, -value if maximize else value)

    rows.sort(key=order)
    return rows


def _number(value: JsonValue) -> float | None:
    """Return a row's numeric value (objective, seconds, USD); ``None`` when it has none."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def format_row_cells(row: TrialRow, params: list[str]) -> list[str]:
    """Return a row's cells as text, for the widget's table and the text repr."""
    from sm_magics import pricing

    objective = _number(row["objective"])
    cells = [str(row["trial"]), str(row["status"]), "" if objective is None else f"{objective:.6g}"]
    for key in params:
        value = row.get(key)
        cells.append(f"{value:.4g}" if isinstance(value, float) else str(value))
    duration = _number(row["duration_s"])
    cells.append(format_duration(duration) if duration is not None else "")
    cost = _number(row["cost_usd"])
    cells.append(pricing.format_usd(cost) if cost is not None else "n/a")
    note = "early stop" if row["early_stopped"] else str(row["failure"] or "")
    cells.append(note)
    return cells


def trials_progress(description: TuningJobDescription) -> str:
    """Return ``"<ended>/<max> trials"`` of a tuning description."""
    total = descriptions.max_trials(description)
    return f"{descriptions.ended_trials(description)}/{'?' if total is None else total} trials"


_TABLE_STYLE = "border-collapse:collapse;font-size:12px"
_CELL = "text-align:left;padding:2px 8px;border-bottom:1px solid var(--jp-border-color2, #ddd)"


def _usd(value: float) -> str:
    from sm_magics import pricing

    # "&#36;" keeps JupyterLab's maths typesetting away from a pair of dollar signs.
    return escape(pricing.format_usd(value)).replace("$", "&#36;")


def tuning_header_html(
    description: TuningJobDescription, rows: list[TrialRow], backend: str
) -> str:
    """Return the head of a tuning job's view: status, progress, best objective, cost.

    One builder for the live widget and the static snapshot of the display bundle.
    """
    import time

    from sm_magics.display import STATUS_COLOURS

    d = description
    name = str(d.get("HyperParameterTuningJobName", ""))
    status = d.get("HyperParameterTuningJobStatus", "")
    colour = STATUS_COLOURS.get(status, "inherit")
    config = d.get("HyperParameterTuningJobConfig", {})
    objective = config.get("HyperParameterTuningJobObjective", {})
    best = (d.get("BestTrainingJob") or {}).get("FinalHyperParameterTuningJobObjectiveMetric")
    best_text = (
        f"best {escape(objective.get('MetricName', ''))} = <b>{best['Value']:.6g}</b> "
        f"({escape(d['BestTrainingJob']['TrainingJobName'])})"
        if best
        else "no finished trial yet"
    )
    costs = [usd for r in rows if (usd := _number(r["cost_usd"])) is not None]
    cost = f"{_usd(sum(costs))} for all trials" if costs else "cost n/a"
    if backend == "local":
        cost += " (what they would cost on SageMaker)"
    created = d.get("CreationTime")
    ended = d.get("HyperParameterTuningEndTime")
    elapsed = ""
    if created is not None:
        end = ended.timestamp() if ended is not None else time.time()
        elapsed = f" &middot; {format_duration(end - created.timestamp())}"
    strategy = config.get("Strategy", "")
    stopping = config.get("TrainingJobEarlyStoppingType", "Off")
    lines = [
        f"<b>{escape(name)}</b> &middot; tuning ({escape(strategy)}, early stopping "
        f"{escape(stopping)}) &middot; <span style='color:{colour};font-weight:600'>"
        f"{escape(status)}</span> &middot; {trials_progress(d)}{elapsed}",
        f"{'maximize' if objective.get('Type') == 'Maximize' else 'minimize'} "
        f"{escape(objective.get('MetricName', ''))}: {best_text} &middot; {cost}",
    ]
    reason = d.get("FailureReason")
    if reason:
        lines.append(f"<span style='color:{STATUS_COLOURS['Failed']}'>{escape(reason)}</span>")
    return "<br>".join(lines)


def trials_table_html(rows: list[TrialRow], params: list[str]) -> str:
    """Return the trials as an HTML table, in the order given."""
    from sm_magics.display import STATUS_COLOURS

    columns = ["trial", "status", "objective", *params, "duration", "cost", "note"]
    head = "".join(f"<th style='{_CELL}'>{escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = [escape(c) for c in format_row_cells(row, params)]
        cells[-2] = cells[-2].replace("$", "&#36;")
        colour = STATUS_COLOURS.get(str(row["status"]), "inherit")
        cells[1] = f"<span style='color:{colour};font-weight:600'>{cells[1]}</span>"
        body.append("<tr>" + "".join(f"<td style='{_CELL}'>{c}</td>" for c in cells) + "</tr>")
    if not body:
        return "<p>No trial yet.</p>"
    return (
        f"<div style='max-height:22em;overflow:auto'><table style='{_TABLE_STYLE}'>"
        f"<tr>{head}</tr>{''.join(body)}</table></div>"
    )


def trial_params(rows: list[TrialRow]) -> list[str]:
    """Return the tuned hyperparameters' names of trial rows."""
    return sorted({k for row in rows for k in row} - set(BASE_COLUMNS) - set(TAIL_COLUMNS))
