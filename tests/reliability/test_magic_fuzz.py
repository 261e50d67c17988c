"""Issue 12 defect 10: hostile but well-formed magic lines give one ``UsageError``, never a raw one.

A seeded generator writes lines for every ``%sm_*`` magic from its own argument parser:
each option gets a value from a pool of the inputs that broke the magics before (names
over 255 characters, NUL bytes, a ``{x}`` whose ``__str__`` raises, text that is not
Latin-1, ``10**300``, a symlink loop, counts over SageMaker's quotas, lone surrogates,
line separators), mixed with ordinary values so that validation gets past its first
check. Each line runs through the real shell; the only exception allowed out is
``UsageError``. Nothing is launched: the local backend's detached processes are replaced by
a refusal, so a line valid to the end is rolled back like a failed create.

Bounded: ``SM_MAGICS_FUZZ_LINES`` lines (default 3,000), seed ``SM_MAGICS_FUZZ_SEED``.
"""

from __future__ import annotations

import os
import random
import shlex
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from sm_magics.errors import InvalidRequest

LINES = int(os.environ.get("SM_MAGICS_FUZZ_LINES", "3000"))
SEED = int(os.environ.get("SM_MAGICS_FUZZ_SEED", "20261202"))

CELL_MAGICS = ("sm_train", "sm_tune")
CELL = "print('fuzz')\n"


class Unprintable:
    """A value whose ``str()`` raises: ``{x}`` in a line must not take the magic down."""

    def __str__(self) -> str:
        raise RuntimeError("no str for you")

    __repr__ = __str__
    __format__ = None  # type: ignore[assignment]


def _pool(scratch: Path) -> list[str]:
    loop = scratch / "loop"
    if not loop.is_symlink():
        loop.symlink_to(loop)  # a symlink to itself: ELOOP on every open
    script = scratch / "train.py"
    script.write_text(CELL)
    return [
        "a" * 300,
        "b" * 256,
        "x" * 64,
        "ok-name",
        "{x}",
        "{big}",
        "{missing}",
        "a\x00b",
        f"{scratch}/\x00/model",
        "ünïcødé-名前",
        "\u2028line\u2029",
        "\udcff",
        "😀",
        "10**300",
        str(10**300),
        "1e999",
        "-1",
        "0",
        "1000",
        "nan",
        "inf",
        "",
        "--",
        "-",
        "=",
        "K=",
        "=V",
        "K=V",
        "A=1",
        "lr=0.1",
        "lr:continuous:0.001:0.1",
        "loss=([0-9.]+)",
        "train=file:///nonexistent",
        f"train={loop}",
        str(loop),
        f"file://{loop}",
        f"file://{scratch}/{'d' * 300}",
        "/dev/null",
        "/dev/zero",
        "../../../../etc/passwd",
        str(script),
        str(scratch),
        "s3://bucket/key",
        "s3://",
        "ml.m5.large",
        "ml.nope.huge",
        "local",
        "text/csv",
        "application/json",
        "täxt/csv",
        "text/csv\r\nX-Evil: 1",
        "1:1000",
        "0:0",
        "5:1",
        "1h",
        "99999999999d",
        "-5m",
        "Completed",
        "InProgress",
        "'unbalanced",
        '"also',
        "a b c",
        "$(rm -rf /)",
        "`id`",
        "; ls",
    ]


def _value(rng: random.Random, pool: list[str]) -> str:
    return rng.choice(pool)


def _line(rng: random.Random, parser: Any, pool: list[str]) -> str:
    """One line for ``parser``: some options, each with one or more hostile values."""
    words: list[str] = []
    actions = [a for a in parser._actions if a.dest != "help"]
    for action in actions:
        if not action.option_strings:  # positional
            if action.nargs == "?" and rng.random() < 0.3:
                continue
            count = rng.randint(1, 3) if action.nargs == "+" else 1
            words += [_value(rng, pool) for _ in range(count)]
        elif rng.random() < 0.35:
            words.append(rng.choice(action.option_strings))
            if action.nargs == 0:
                continue
            count = rng.randint(1, 3) if action.nargs == "+" else 1
            words += [_value(rng, pool) for _ in range(count)]
    return " ".join(shlex.quote(w) if rng.random() < 0.9 else w for w in words)


def _refuse_to_launch(*_: object, **__: object) -> Any:
    raise InvalidRequest("fuzz: nothing is launched in this test")


def test_hostile_magic_lines_give_only_usage_errors(
    ip: InteractiveShell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sm_magics.backends.local import processes

    monkeypatch.setattr(processes, "spawn_detached", _refuse_to_launch)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    ip.user_ns.update(x=Unprintable(), big=10**300)
    registry = ip.magics_manager.magics
    magics = sorted(name for name in registry["line"] if name.startswith("sm_"))
    pool = _pool(tmp_path)
    rng = random.Random(SEED)
    raw: list[str] = []
    tried = 0
    outcomes: Counter[str] = Counter()
    for _ in range(LINES):
        magic = rng.choice(magics)
        parser = registry["line"][magic].parser
        line = _line(rng, parser, pool)
        tried += 1
        try:
            if magic in CELL_MAGICS and rng.random() < 0.5:
                ip.run_cell_magic(magic, line, CELL)
            else:
                ip.run_line_magic(magic, line)
        except UsageError as exc:
            outcomes["refused before launching" if "fuzz:" in str(exc) else "UsageError"] += 1
        except Exception as exc:  # noqa: BLE001 - exactly what the test is looking for
            raw.append(f"%{magic} {line!r}: {type(exc).__name__}: {str(exc)[:200]}")
        else:
            outcomes["answered"] += 1
    print(f"\n{tried} lines (seed {SEED}): {dict(outcomes)}, raw exceptions {len(raw)}")
    assert tried == LINES
    assert raw == [], f"{len(raw)} raw exceptions in {tried} lines:\n" + "\n".join(raw[:40])


def _nothing_made(home: Path) -> None:
    from sm_magics.ledger import Ledger

    ledger = Ledger(home / "ledger.sqlite")
    try:
        assert ledger.list_jobs() == []
        assert ledger.list_endpoints(live_only=False) == []
    finally:
        ledger.close()
    for folder in ("jobs", "endpoints"):
        assert not any((home / folder).iterdir()) if (home / folder).exists() else True


@pytest.mark.parametrize(
    ("magic", "line", "cell", "words"),
    [
        ("sm_train", "a" * 300, CELL, "name"),
        ("sm_train", "--entry-point " + "e" * 300 + ".py", None, ""),
        ("sm_train", "--input train=file://{scratch}/loop", CELL, ""),
        ("sm_train", "--input train={scratch}/\x00/x", CELL, "NUL"),
        ("sm_train", "--hp lr={x}", CELL, "raised"),
        ("sm_train", "-n 1000", CELL, "1 to 100"),
        ("sm_train", "-n 10**300", CELL, ""),
        ("sm_deploy", "{scratch}/model.tar.gz -n 1000", None, "1 to 100"),
        (
            "sm_batch",
            "{scratch}/model.tar.gz --input {scratch} --output {scratch} -n 101",
            None,
            "1 to 100",
        ),
        ("sm_jobs", "--limit 0", None, "at least 1"),
        ("sm_logs", "\udcff", None, "surrogate"),
        ("sm_wait", "b" * 300, None, ""),
    ],
)
def test_each_reported_hostile_input_is_refused_before_anything_is_made(
    ip: InteractiveShell,
    tmp_path: Path,
    sm_home: Path,
    magic: str,
    line: str,
    cell: str | None,
    words: str,
) -> None:
    """The inputs issue 12 names: one UsageError each, no row, no folder left behind."""
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    (tmp_path / "model.tar.gz").write_bytes(b"")
    ip.user_ns.update(x=Unprintable())
    line = line.replace("{scratch}", str(tmp_path))
    with pytest.raises(UsageError, match=words or None):
        if cell is None:
            ip.run_line_magic(magic, line)
        else:
            ip.run_cell_magic(magic, line, cell)
    _nothing_made(sm_home)


def test_a_huge_limit_lists_everything(ip: InteractiveShell) -> None:
    table = ip.run_line_magic("sm_jobs", f"--limit {10**300}")
    assert "No" in repr(table) or repr(table) is not None


def test_a_non_latin1_content_type_is_refused_before_sending() -> None:
    from sm_magics.api import Session
    from sm_magics.endpoint import Endpoint
    from sm_magics.errors import InvalidRequest

    endpoint = Endpoint(Session(), "no-such-endpoint", "local")
    for value in ("täxt/csv", "text/csv\r\nX-Evil: 1", ""):
        with pytest.raises(InvalidRequest, match="HTTP header"):
            endpoint.invoke("1,2", content_type=value)
