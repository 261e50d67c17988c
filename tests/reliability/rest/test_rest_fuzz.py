"""A bounded fuzz of every REST route: hostile names, parameters and bodies, never a 500.

Each route of ``docs/rest-api.md`` gets the same hostile inputs -- names too long, with
NUL, ``..``, lone surrogates and invalid UTF-8 (percent-encoded), SQL and shell
metacharacters; query values negative, huge, not numbers, ``NaN``; log cursors forged
negative, non-numeric, huge or deeply nested; request bodies that are not JSON, nest
100,000 levels deep, hold lone surrogates or header-injection attempts -- against a real
server with a real finished job and a real live endpoint. Every answer must be a JSON
``{"code", "message"}`` with a status below 500: a hostile input is the client's error.
The inputs come from a seeded generator, so a failure reproduces.
"""

from __future__ import annotations

import base64
import json
import random
from typing import Any

import pytest
from server.conftest import Call

from sm_magics.api import Job, Session

#: Path segments no job or endpoint can be named (percent-encoded as a client sends them).
HOSTILE_NAMES = [
    "a" * 300,
    "%00",
    "a%00b",
    "..",
    "%2e%2e",
    "%ED%A0%80",  # a lone surrogate, UTF-8-encoded
    "%FF%FE",  # not UTF-8
    "%E2%80%AE",  # right-to-left override
    "'%20OR%201=1%20--",
    "%24(touch%20x)",
    "%60id%60",
    "a%2Fb",
    "%0d%0aX-Evil:%201",
    "-",
    "%20",
    "%F0%9F%92%A5",
]

HOSTILE_VALUES = [
    "-1",
    "0",
    "-0",
    "1e309",
    "NaN",
    "inf",
    "-inf",
    str(10**300),
    "99999999999999999999999",
    "",
    " ",
    "%00",
    "%FF",
    "%ED%A0%80",
    "1;DROP TABLE jobs",
    "true",
    "[]",
    "{}",
    "a" * 5000,
]


def _cursor(value: Any) -> str:
    raw = json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def forged_cursors(job_log: str) -> list[str]:
    """Cursors of the right encoding and every wrong content."""
    nested: Any = 0
    for _ in range(200):
        nested = {"x": nested}
    return [
        _cursor({job_log: -1}),
        _cursor({job_log: -(10**18)}),
        _cursor({job_log: "abc"}),
        _cursor({job_log: 10**30}),
        _cursor({job_log: 1e308}),
        _cursor({job_log: [1, 2]}),
        _cursor({job_log: None}),
        _cursor({job_log: {"a": 1}}),
        _cursor({"../../etc/passwd": 0}),
        _cursor({"": 0}),
        _cursor(nested),
        base64.urlsafe_b64encode(b'{"a": NaN}').decode(),
        base64.urlsafe_b64encode(b'{"a": Infinity}').decode(),
        base64.urlsafe_b64encode(b"[" * 10_000 + b"]" * 10_000).decode(),
        base64.urlsafe_b64encode(b'{"a": "\\ud800"}').decode(),
        "A" * 30_000,
        "%00",
        "%FF",
    ]


def hostile_bodies(rng: random.Random) -> list[bytes]:
    """Invoke bodies that are not what the route takes, and a few random byte strings."""
    bodies = [
        b"",
        b"null",
        b"[]",
        b'"text"',
        b"{",
        b"\xff\xfe\x00",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"body": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"body": "\\ud800"}',
        b'{"body": "\\udfff\\ud800"}',
        b'{"body": "x", "content_type": "a\\r\\nX-Evil: 1"}',
        b'{"body": "x", "content_type": "\\u00e9"}',
        b'{"body": "x", "accept": "' + b"a" * 5000 + b'"}',
        b'{"body": "x", "variant": "\\u0000"}',
        b'{"body": "x", "variant": 1}',
        b'{"body": 1e999}',
        b'{"body": "x", "body": 2}',
        b'{"body": "[[5.1, 3.5, 1.4, 0.2]]", "content_type": null}',
        b'{"__proto__": {}}',
        b"NaN",
    ]
    for _ in range(30):
        size = rng.choice([1, 7, 64, 1000])
        bodies.append(bytes(rng.getrandbits(8) for _ in range(size)))
    return bodies


@pytest.fixture
def finished_job() -> Job:
    """A completed local training job with a few log lines."""
    return Session().train("print('hello')\nprint('world')\n").wait(timeout=120)


async def test_no_rest_route_answers_500_to_hostile_input(
    api: Call, endpoints: Any, finished_job: Job, sm_home: Any
) -> None:
    rng = random.Random(12)
    endpoint = endpoints.deploy()
    job = finished_job.name
    log_file = next((sm_home / "jobs" / job).rglob("*.log")).name
    answers: list[tuple[str, tuple[str, ...], Any, int, Any]] = []

    async def call(method: str, *path: str, params: Any = None, body: Any = None) -> None:
        reply = await api(method, *path, params=params, body=body, request_timeout=120)
        answers.append((method, path, params if body is None else body[:80], reply.status, reply))

    # Names on every route that takes one (never the live endpoint: DELETE must not hit it).
    for name in HOSTILE_NAMES:
        await call("GET", "jobs", name)
        await call("GET", "jobs", name, "logs")
        await call("POST", "jobs", name, "stop")
        await call("GET", "endpoints", name)
        await call("DELETE", "endpoints", name)
        await call("POST", "endpoints", name, "invoke", body=b'{"body": "[]"}')
        await call("GET", name)
        await call("POST", "jobs", job, name)
    # Query parameters on every route that reads one (and on those that read none).
    for value in HOSTILE_VALUES:
        for key in ("status", "backend", "kind", "active", "limit"):
            await call("GET", "jobs", params={key: value})
        for key in ("backend", "deleted"):
            await call("GET", "endpoints", params={key: value})
        await call("GET", "jobs", job, "logs", params={"limit": value})
        await call("GET", "jobs", job, "logs", params={"cursor": value})
        await call("GET", "cost", params={"notebook": value})
        await call("GET", "changes", params={"since": value, "timeout": "0"})
        await call("GET", "changes", params={"timeout": value})
        await call("GET", "jobs", job, params={"x": value})
    for cursor in forged_cursors(log_file):
        await call("GET", "jobs", job, "logs", params={"cursor": cursor})
    for body in hostile_bodies(rng):
        await call("POST", "endpoints", endpoint, "invoke", body=body)
        await call("POST", "jobs", job, "stop", body=body)
    # Methods a route does not take.
    for path in (("jobs",), ("jobs", job), ("endpoints",), ("cost",), ("changes",)):
        await call("DELETE", *path)
        await call("POST", *path, body=b"{}")

    broken = [(m, p, what, status) for m, p, what, status, _ in answers if status >= 500]
    assert broken == [], broken
    for method, path, what, status, reply in answers:
        if status >= 400:
            assert isinstance(reply.body, dict), (method, path, what, status, reply.raw[:200])
            assert set(reply.body) == {"code", "message"}, (method, path, what, reply.body)
    # Forged cursors are the client's mistake, said so.
    cursor_answers = [a for a in answers if a[1][-1:] == ("logs",) and a[2] and "cursor" in a[2]]
    assert cursor_answers and all(a[3] in (200, 400) for a in cursor_answers)
    assert len(answers) >= 400
