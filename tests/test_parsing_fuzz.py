"""Property tests of everything that reads user input: magic lines, durations, names, KEY=VALUE.

The central property, checked through the real ``%%sm_train`` magic on a real shell: any
argument line either starts a job whose name SageMaker would accept, or raises exactly a
``UsageError`` and leaves nothing behind (no ledger row, no job folder).
"""

from __future__ import annotations

import importlib.util
import json
import math
import shlex
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from sm_magics import config
from sm_magics.api import JOB_NAME_RE, Job, generate_job_name, validate_job_name
from sm_magics.durations import format_duration, parse_duration
from sm_magics.errors import InvalidRequest
from sm_magics.ledger import Ledger
from sm_magics.magic_parsing import parse_key_values


def snapshot() -> tuple[list[str], list[str]]:
    ledger = Ledger()
    try:
        names = sorted(r.name for r in ledger.list_jobs())
    finally:
        ledger.close()
    jobs = config.home_dir() / "jobs"
    folders = sorted(p.name for p in jobs.iterdir()) if jobs.is_dir() else []
    return names, folders


# -- the %%sm_train line fuzzer ----------------------------------------------------------------

# Characters that IPython expands in magic lines ({expr}, $name) are left out: expansion
# evaluates Python in the user namespace, which is not what is under test here.
_JUNK_ALPHABET = st.characters(blacklist_categories=("Cs",), blacklist_characters="{}$\x00")
junk_text = st.text(_JUNK_ALPHABET, max_size=12)
names = st.one_of(
    st.from_regex(JOB_NAME_RE, fullmatch=True),
    junk_text,
    st.sampled_from(
        [
            "ok-name",
            "a" * 64,
            "-lead",
            "trail-",
            "x_y",
            "ünï",
            "two words",
            "'q'",
            '"dq"',
            "a--b",
            "a" + "-" * 70 + "b",
        ]
    ),
)
key_value = st.builds(lambda k, v: f"{k}={v}", junk_text, junk_text)

#: Placeholders replaced inside the test: an existing folder and an existing file.
DATA, SRC = "@DATA@", "@SRC@"

_VALID_FLAGS = [
    "--hp epochs=3",
    "--hp lr=0.1 flag=true",
    "--hp layers=[1,2]",
    "--env A=b",
    "--tag team=ml",
    "--metric loss=loss=([0-9.]+)",
    "-i ml.c5.xlarge",
    "-n 1",
    "--max-run 30m",
    "--max-wait 1h",
    "--spot",
    "--image repo/img:1",
    "--framework sklearn",
    "--framework-version 1.2-1",
    "--py-version py3",
    "--checkpoint-uri s3://b/c",
    "-o fuzz_handle",
    f"--input train={DATA}",
    f"--source-dir {SRC}",
    "-b local",
]
_INVALID_FLAGS = [
    "--hp",
    "--hp novalue",
    "--hp =1",
    "--hp 1bad=2",
    "--env",
    "--env NOEQ",
    "--tag =v",
    "--metric loss=(",
    "--metric loss=a{{99999999999}}",
    "--input train=/no/such/path",
    "--input s3chan=s3://bucket/key",
    "--input b@d=.",
    "-n 0",
    "-n -1",
    "-n x",
    "--max-run soon",
    "--max-run 0",
    "--max-run " + "9" * 400,
    "--max-wait -5m",
    "--requirements /no/such/req.txt",
    "--source-dir /no/such/dir",
    "--entry-point train.py",
    "-b nosuch",
    "-o 1abc",
    "-o 'not ok'",
    "--bogus",
    "-z",
    "--hp 'unclosed",
    '--env "A=b',
    "--limit 3",
    "--status Completed",
]
if importlib.util.find_spec("boto3") is None:  # without boto3 this is a clean UsageError
    _INVALID_FLAGS.append("-b sagemaker")


def _quoted(text: str) -> str:
    return shlex.quote(text)


#: One thing wrong: a bad flag, a random KEY=VALUE (quoted or not), or a junk token.
fault = st.one_of(
    st.sampled_from(_INVALID_FLAGS),
    st.sampled_from(_INVALID_FLAGS),
    st.sampled_from(_INVALID_FLAGS),
    st.builds(
        lambda flag, kv: f"{flag} {kv}",
        st.sampled_from(["--hp", "--env", "--tag", "--metric", "--input"]),
        key_value,
    ),
    st.builds(
        lambda flag, kv: f"{flag} {_quoted(kv)}",
        st.sampled_from(["--hp", "--env", "--tag", "--metric"]),
        key_value,
    ),
    junk_text,
)


@st.composite
def argument_lines(draw: st.DrawFn) -> str:
    """A line of valid flags with up to two faults mixed in, and maybe a random name.

    Mostly single faults next to valid flags: a fault only detected after something was
    created (a late check) shows up as a job folder or ledger row left behind.
    """
    parts = draw(st.lists(st.sampled_from(_VALID_FLAGS), max_size=4))
    for item in draw(st.lists(fault, max_size=2)):
        parts.insert(draw(st.integers(0, len(parts))), item)
    name = draw(st.one_of(st.none(), names))
    if name is not None:
        quote = draw(st.booleans())
        parts.insert(draw(st.integers(0, len(parts))), _quoted(name) if quote else name)
    return " ".join(parts)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(line=argument_lines())
def test_sm_train_line_is_a_job_or_exactly_a_usage_error(
    ip: InteractiveShell, tmp_path_factory: pytest.TempPathFactory, line: str
) -> None:
    data = tmp_path_factory.getbasetemp() / "fuzz-data"
    src = tmp_path_factory.getbasetemp() / "fuzz-src"
    for folder in (data, src):
        folder.mkdir(exist_ok=True)
    (data / "rows.csv").write_text("1,2\n")
    (src / "util.py").write_text("X = 1\n")
    line = line.replace(DATA, str(data)).replace(SRC, str(src))
    ip.user_ns.pop("fuzz_handle", None)

    before = snapshot()
    try:
        job = ip.run_cell_magic("sm_train", line, "pass\n")
    except UsageError as exc:
        event("UsageError")
        assert str(exc).strip(), line  # a message that says something
        assert snapshot() == before, line
        assert "fuzz_handle" not in ip.user_ns
        return
    assert isinstance(job, Job), line
    event("job created")
    assert JOB_NAME_RE.fullmatch(job.name) and len(job.name) <= 63, job.name
    names_after, folders_after = snapshot()
    assert names_after == sorted([*before[0], job.name])
    assert folders_after == sorted([*before[1], job.name])
    job.stop()  # keep the run cheap: the point was the parsing


@pytest.mark.parametrize("bad", _INVALID_FLAGS)
def test_each_fault_next_to_valid_flags_creates_nothing(
    ip: InteractiveShell, bad: str, tmp_path: Path
) -> None:
    """Every fault of the fuzzer, once, between valid flags (the fuzzer may miss some)."""
    (tmp_path / "rows.csv").write_text("1,2\n")
    # (No valid -o here: a later -o would override a bad one, as argparse does.)
    line = f"--hp epochs=3 --input train={tmp_path} {bad} --tag team=ml"
    before = snapshot()
    with pytest.raises(UsageError):
        ip.run_cell_magic("sm_train", line, "pass\n")
    assert snapshot() == before


# -- durations -----------------------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=10**7))
def test_format_then_parse_round_trips(seconds: int) -> None:
    text = format_duration(seconds)
    expected = seconds if seconds < 3600 else seconds - seconds % 60  # "2h 03m" drops seconds
    assert parse_duration(text) == expected
    assert parse_duration(str(seconds)) == seconds
    assert parse_duration(f"{seconds}s") == seconds
    assert parse_duration(seconds) == seconds


@given(st.integers(0, 50), st.integers(0, 59), st.integers(0, 59), st.integers(0, 3))
def test_parse_duration_units_add_up(hours: int, minutes: int, secs: int, days: int) -> None:
    total = days * 86400 + hours * 3600 + minutes * 60 + secs
    assume(total > 0)
    text = f"{days}d{hours}h{minutes}m{secs}s"
    assert parse_duration(text) == total
    assert parse_duration(text.upper()) == total
    assert parse_duration(f" {days}d {hours}h {minutes}m {secs}s ") == total


@given(
    st.one_of(
        st.text(max_size=20),
        st.from_regex(r"[0-9.smhd ]{0,12}", fullmatch=True),
        st.sampled_from(
            [
                "9" * 400,
                "9" * 400 + "s",
                "1e9",
                "nan",
                "inf",
                "-5",
                "0",
                "0s",
                "1.5.5s",
                "h",
                "m5",
                "5x",
            ]
        ),
    )
)
def test_parse_duration_rejects_junk_with_invalid_request_only(text: str) -> None:
    try:
        seconds = parse_duration(text)
    except InvalidRequest:
        return
    assert isinstance(seconds, int) and seconds >= 1


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_parse_duration_numbers(value: float) -> None:
    try:
        seconds = parse_duration(value)
    except InvalidRequest:
        assert not (math.isfinite(value) and value > 0)
        return
    assert seconds == max(1, round(value))


# -- job names -------------------------------------------------------------------------------


def _is_sagemaker_job_name(name: str) -> bool:
    """An independent reading of SageMaker's rule: 1-63 ASCII letters, digits and hyphens,
    starting and ending with a letter or digit."""
    alnum = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    return (
        1 <= len(name) <= 63
        and set(name) <= alnum | {"-"}
        and name[0] in alnum
        and name[-1] in alnum
    )


@given(
    st.one_of(
        st.text(max_size=80),
        st.from_regex(JOB_NAME_RE, fullmatch=True),
        st.from_regex(r"[a-z0-9-]{1,80}", fullmatch=True),
    )
)
def test_validate_job_name_matches_sagemakers_rule(name: str) -> None:
    if _is_sagemaker_job_name(name):
        assert validate_job_name(name) == name
    else:
        with pytest.raises(InvalidRequest, match="Invalid job name"):
            validate_job_name(name)


@given(
    prefix=st.one_of(st.from_regex(r"[a-zA-Z0-9-]{0,80}", fullmatch=True), st.text(max_size=20)),
    moment=st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2999, 12, 31),
        timezones=st.just(timezone.utc),
    ),
)
def test_generate_job_name(prefix: str, moment: datetime) -> None:
    try:
        name = generate_job_name(prefix, now=moment)
    except InvalidRequest:
        assert not all(c.isascii() and (c.isalnum() or c == "-") for c in prefix)
        return
    assert _is_sagemaker_job_name(name)
    stamp = moment.strftime("%Y-%m-%d-%H-%M-%S-") + f"{moment.microsecond // 1000:03d}"
    assert name.endswith("-" + stamp)
    head = name[: -len(stamp) - 1]
    stripped = prefix.strip("-")
    if stripped:
        assert stripped.startswith(head)
    else:
        assert head == "sm-train"
    later = generate_job_name(prefix, now=moment + timedelta(milliseconds=1))
    assert later != name


# -- KEY=VALUE -----------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
keys = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="="), min_size=1, max_size=12
).filter(lambda k: k.strip() == k and k)


@given(st.dictionaries(keys, json_values, max_size=5), st.integers(1, 3))
def test_parse_key_values_json_round_trip(pairs: dict[str, Any], groups: int) -> None:
    items = [f"{k}={json.dumps(v)}" for k, v in pairs.items()]
    chunks = [items[i::groups] for i in range(groups)]
    assert parse_key_values(chunks, "--hp", json_values=True) == pairs


@given(st.lists(st.tuples(keys, st.text(max_size=12)), max_size=5))
def test_parse_key_values_plain_strings(pairs: list[tuple[str, str]]) -> None:
    items = [f"{k}={v}" for k, v in pairs]
    result = parse_key_values([items], "--env", json_values=False)
    assert result == dict(pairs)  # later duplicates win, as a dict literal would


@given(st.text(max_size=15))
def test_parse_key_values_text_value_decoding(value: str) -> None:
    result = parse_key_values([[f"k={value}"]], "--hp", json_values=True)
    try:
        expected = json.loads(value)
    except ValueError:
        expected = value
    assert json.dumps(result["k"]) == json.dumps(expected)


@given(
    st.one_of(
        st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="="), max_size=10),
        st.builds(lambda v: f" ={v}", st.text(max_size=5)),
        st.builds(lambda v: f"={v}", st.text(max_size=5)),
    )
)
def test_parse_key_values_rejects_items_without_a_key(item: str) -> None:
    with pytest.raises(UsageError, match="--tag expects KEY=VALUE"):
        parse_key_values([["ok=1", item]], "--tag", json_values=False)


def test_parse_key_values_none_and_empty() -> None:
    assert parse_key_values(None, "--hp", json_values=True) == {}
    assert parse_key_values([], "--hp", json_values=True) == {}
    assert parse_key_values([["a=1"], ["a=2"]], "--hp", json_values=True) == {"a": 2}
    assert parse_key_values([["a = b"]], "--env", json_values=False) == {"a": " b"}
