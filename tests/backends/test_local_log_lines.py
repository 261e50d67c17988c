"""Issue 12, defect 1: every byte a job prints arrives, split on ``\\n`` only.

Real jobs print a progress bar's ``\\r``, the other Unicode line boundaries and a line
longer than the reader's chunk; every reader (the backend's cursor, ``%sm_logs``,
``--wait``'s stream, the final metrics) must see all of it, in order.
"""

from __future__ import annotations

from pathlib import Path

from helpers import make_spec, read_all_logs, wait_until_terminal

from sm_magics.backends.local import logstore

#: Every character ``str.splitlines`` treats as a line boundary, except ``\n`` itself.
BOUNDARIES = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
LONG = 3 * (1 << 20) + 17  # longer than the reader's 1 MiB chunk, not a multiple of it

SCRIPT = f"""\
import sys
print("start")
print("a" + "b".join({BOUNDARIES!r}) + "z", flush=True)
sys.stdout.write("\\r 10%\\r 50%\\r100%\\n")
print("é" * {LONG // 2} + "x")
print("loss=0.25")
print("after the long line")
"""


def _rejoin(messages: list[str]) -> list[str]:
    """Join the pieces of cut lines back into the lines the script printed."""
    lines: list[str] = []
    pending = ""
    for message in messages:
        if message.endswith(logstore.CONTINUED):
            pending += message[: -len(logstore.CONTINUED)]
        else:
            lines.append(pending + message)
            pending = ""
    return lines


def test_no_byte_of_a_line_is_lost(local_backend) -> None:
    spec = make_spec(script=SCRIPT, metric_definitions={"loss": r"loss=([0-9.]+)"})
    local_backend.create_training_job(spec)
    description = wait_until_terminal(local_backend, spec.name)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    messages = [e.message for e in read_all_logs(local_backend, spec.name)]
    # Each delivered line is bounded, so no reader holds a whole 3 MiB line.
    assert all(len(m.encode()) <= logstore.MAX_LINE_BYTES + 32 for m in messages)
    output = _rejoin(messages)
    start = output.index("start")
    assert output[start + 1] == "a" + "b".join(BOUNDARIES) + "z"
    assert output[start + 2] == "\r 10%\r 50%\r100%"
    assert output[start + 3] == "é" * (LONG // 2) + "x"
    assert output[start + 4 : start + 6] == ["loss=0.25", "after the long line"]
    # The final metric comes from after the long line.
    assert [m["Value"] for m in description["FinalMetricDataList"]] == [0.25]


def test_wait_and_sm_logs_print_every_line(ip, capsys) -> None:
    job = ip.run_cell_magic("sm_train", "--wait", SCRIPT)
    waited = capsys.readouterr().out
    ip.run_line_magic("sm_logs", job.name)
    logged = capsys.readouterr().out
    # What a terminal shows of a line with \r is what follows its last \r (the display
    # layer collapses progress redraws); every other boundary stays inside the line.
    shown = ("a" + "b".join(BOUNDARIES) + "z").rsplit("\r", 1)[-1]
    for text in (waited, logged):
        assert "after the long line" in text
        assert shown in text
        assert text.count("é") == LONG // 2


def test_a_record_longer_than_a_chunk_does_not_stall_the_cursor(tmp_path: Path) -> None:
    # A file written by someone else (an older version) may hold a record over the chunk.
    logs = tmp_path / "logs"
    logs.mkdir()
    big = "y" * (logstore.READ_CHUNK * 2 + 5)
    (logs / "algo-1-1.log").write_text(f"1000\to\tbefore\n1001\to\t{big}\n1002\to\tafter\n")
    messages: list[str] = []
    cursor = None
    for _ in range(20):
        batch = logstore.read_new(logs, cursor)
        cursor = batch.cursor
        if not batch.events:
            break
        messages += [e.message for e in batch.events]
    assert _rejoin(messages) == ["before", big, "after"]


def test_splitter_keeps_crlf_progress_and_cuts_long_lines(tmp_path: Path) -> None:
    log = logstore.HostLog(tmp_path, "algo-1", 1)
    splitter = logstore.LineSplitter(log)
    payload = b"one\r\ntwo\rthree\n" + b"z" * (logstore.MAX_LINE_BYTES * 2 + 3) + b"\nlast"
    for index in range(0, len(payload), 4096):  # as a pipe hands it over
        splitter.feed(payload[index : index + 4096])
    splitter.close()
    log.close()
    messages: list[str] = []
    batch = logstore.read_new(tmp_path, None)
    while batch.events:
        messages += [e.message for e in batch.events]
        batch = logstore.read_new(tmp_path, batch.cursor)
    assert _rejoin(messages) == [
        "one",
        "two\rthree",
        "z" * (logstore.MAX_LINE_BYTES * 2 + 3),
        "last",
    ]
    assert sum(m.endswith(logstore.CONTINUED) for m in messages) == 2
