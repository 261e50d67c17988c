"""The first process of a local training job: it starts the hosts, then supervises them.

The first line a user sees waits for the host's interpreter start; everything else is kept
off that path. The kernel keeps one starter ready (``python -S <this file> --ready``,
:mod:`.handoff`), which loads all it will need while it waits: the namespaces' modules and
the C library, the log pumps, ``site``, psutil, the ledger and the supervisor. (A kernel's
first job, or one submitted right after another, starts its own starter, which loads only
the fork path while the kernel lays the job out, and the rest once the hosts run.) The
kernel computes each host's launch (command, environment, working folder, namespaces:
:func:`~sm_magics.backends.local.host_launch.fast_start`) and writes it to our stdin, which
we read with :mod:`marshal` (built in; nothing on disk: it holds the environment). We then
take a slot, fork each host (its own session, the death signal, its namespaces entered in
the child, no launcher interpreter), fork the job's watchdog and start the log pumps; the
supervisor takes the job from there, in this process.

Anything unusual (no free slot, a stop already asked for, namespaces refused, a command
that cannot run) leaves the whole job to the supervisor's ordinary path, which waits,
probes and reports as before; the hand-over loses nothing, since nothing ran yet.

:func:`spawn` and :class:`Child` are also the supervisor's way to start the hosts.
"""

# os.path, not pathlib: pathlib imports re, urllib.parse and more, before the first line.
# ruff: noqa: PTH100, PTH103, PTH110, PTH117, PTH118, PTH120

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # not signal: it imports enum (a few ms)
import contextlib
import marshal
import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading

    from sm_magics.backends.local.logstore import HostLog

_PR_SET_PDEATHSIG = 1
#: Seconds a thread holds the GIL before another may take it (see :func:`main`).
PUMP_SWITCH_INTERVAL = 0.0005


class LaunchError(OSError):
    """A host could not be started (namespaces refused, the command cannot run)."""


class Child:
    """A host process we forked: the part of ``subprocess.Popen`` the supervisor uses."""

    def __init__(self, pid: int, scratch: str | None, errors: int | None = None) -> None:
        self.pid = pid
        self.returncode: int | None = None
        #: The namespaces' scratch folder, removed when the job ends (None: none made).
        self.scratch = scratch
        #: The read end of the pipe the child reports a failed start on, until confirmed.
        self._errors = errors

    def confirm(self) -> Child:
        """Wait until the child executed its command; raise :class:`LaunchError` if not.

        Separate from :func:`fork` so that the parent can do other work (its imports)
        while the child enters its namespaces and executes the command.
        """
        if self._errors is None:
            return self
        message = b""
        while chunk := os.read(self._errors, 4096):
            message += chunk
        os.close(self._errors)
        self._errors = None
        if message:
            os.waitpid(self.pid, 0)
            self.returncode = 127
            if self.scratch is not None:
                import shutil

                shutil.rmtree(self.scratch, ignore_errors=True)
            raise LaunchError(message.decode(errors="replace"))
        return self

    def poll(self) -> int | None:
        """Return the exit code (``-signal`` if killed), or ``None`` while it runs."""
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere (psutil's wait): as Popen does
                self.returncode = 0
            else:
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the end; raise :class:`TimeoutError` after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"process {self.pid} still runs")
            time.sleep(0.01)
        return code


def spawn(
    command: list[str],
    env: dict[str, str],
    cwd: str,
    ns: dict[str, object] | None,
    out: int,
    *,
    stdin: int | None = None,
    die_with_us: bool = True,
) -> Child:
    """Start ``command`` (see :func:`fork`) and wait until it runs.

    Raises
    ------
    LaunchError
        The child could not enter its namespaces or execute the command; it has ended.
    """
    return fork(command, env, cwd, ns, out, stdin=stdin, die_with_us=die_with_us).confirm()


def fork(
    command: list[str],
    env: dict[str, str],
    cwd: str,
    ns: dict[str, object] | None,
    out: int,
    *,
    stdin: int | None = None,
    die_with_us: bool = True,
) -> Child:
    """Fork ``command`` in a new session with stdout and stderr on ``out``; see the module.

    ``ns`` (``opt_ml``, ``hostname``, ``hosts``, ``pid``) enters the host's namespaces in
    the child before it executes the command (with ``pid``, under an init of its own:
    :mod:`.pidns`). On Linux the child dies with us (``PR_SET_PDEATHSIG``)
    unless ``die_with_us`` is false. ``stdin`` defaults to ``/dev/null``.

    The child is not known to run until :meth:`Child.confirm`.

    Raises
    ------
    LaunchError
        ``command`` is not an absolute path.
    """
    from sm_magics.backends.local import namespaces, pidns, syscalls

    if not os.path.isabs(command[0]):
        raise LaunchError(f"not an absolute path: {command[0]}")
    linux = sys.platform.startswith("linux")
    libc = syscalls.load() if linux and (die_with_us or ns) else None
    scratch = namespaces.scratch_dir() if ns else None
    errors_read, errors_write = os.pipe()  # close-on-exec: EOF when the exec succeeded
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: only system calls, then exec (or a message and _exit)
        try:
            os.close(errors_read)
            os.setsid()
            if libc is not None and die_with_us:
                libc.prctl(_PR_SET_PDEATHSIG, _signal.SIGKILL, 0, 0, 0)
                if os.getppid() != parent:
                    os._exit(1)
            if ns:
                hosts = ns["hosts"]
                assert isinstance(hosts, list)
                namespaces.setup(
                    str(ns["opt_ml"]),
                    str(ns["hostname"]),
                    hosts,
                    scratch=scratch,
                    pid=bool(ns.get("pid")),
                )
            os.chdir(cwd)
            os.dup2(os.open(os.devnull, os.O_RDONLY) if stdin is None else stdin, 0)
            os.dup2(out, 1)
            os.dup2(out, 2)
            for name in ("SIGPIPE", "SIGXFSZ"):  # Python ignores them; the script must not
                if hasattr(_signal, name):
                    _signal.signal(getattr(_signal, name), _signal.SIG_DFL)
            if ns and ns.get("pid"):  # the script runs under the namespace's init
                pidns.launch(command, env, errors_write)
            os.execve(command[0], command, env)  # noqa: S606 - the job's own command
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, then we end
            os.write(errors_write, f"{type(exc).__name__}: {exc}".encode(errors="replace"))
        finally:
            os._exit(127)
    os.close(errors_write)
    return Child(pid, scratch, errors_read)


class Early:
    """What the starter did before the supervisor took over: handed to ``Supervisor.run``."""

    def __init__(self, slot: int, downloading: float, training: float) -> None:
        self.slot = slot  # the slot's locked descriptor: held while the job runs
        #: The write end of the watchdog's pipe (:mod:`.watchdog`), or None if not started.
        self.watchdog: int | None = None
        self.downloading = downloading
        self.training = training
        #: What the starter wrote into ``state.json`` (:func:`record`).
        self.recorded: dict[str, object] = {}
        #: ``(host, process, log, reader thread)`` in host order.
        self.hosts: list[tuple[str, Child, HostLog, threading.Thread]] = []


def _try_slot(folder: str, capacity: int) -> int | None:
    import fcntl

    os.makedirs(folder, exist_ok=True)
    for index in range(capacity):
        fd = os.open(os.path.join(folder, f"slot-{index}.lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return fd
    return None


def _log_line(path: str, text: str) -> None:
    """Append one line of ours (``s``) as :class:`~.logstore.HostLog` writes it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, f"{int(time.time() * 1000)}\ts\t{text}\n".encode(errors="replace"))
    finally:
        os.close(fd)


def receive() -> dict[str, object] | None:
    """Read the kernel's message: ``{"root", "home", "plan"}``; None if it sent nothing.

    The kernel closes the pipe once the job is laid out (or without a word when the
    creation failed, or when a kernel that kept us ready ended).
    """
    received = bytearray()
    try:
        while chunk := os.read(0, 1 << 16):
            received += chunk
        message = marshal.loads(received) if received else None  # noqa: S302 - our kernel's
    except (OSError, ValueError, EOFError, TypeError):
        return None
    return message if isinstance(message, dict) else None


def start(root: str, plan: object, stopped: list[bool]) -> Early | None:
    """Start the hosts from the kernel's plan; ``None`` leaves it all to the supervisor."""
    if not isinstance(plan, dict):  # nothing to start from: a venv to build first
        return None
    if stopped or os.path.exists(os.path.join(root, "stop-requested")):
        return None
    slot = _try_slot(plan["slots"], plan["capacity"])
    if slot is None:  # the supervisor waits for one, showing Starting
        return None
    early = Early(slot, time.time(), time.time())
    started: list[tuple[str, Child, int]] = []
    try:
        for host in plan["hosts"]:
            read_end, write_end = os.pipe()
            try:
                child = fork(host["command"], host["env"], host["cwd"], host["ns"], write_end)
            except BaseException:
                os.close(read_end)
                raise
            finally:
                os.close(write_end)
            started.append((host["name"], child, read_end))
        _prepare()  # while the children enter their namespaces and start
        for _, child, _ in started:
            child.confirm()
    except LaunchError:
        for _, child, read_end in started:  # the ordinary path starts them all again
            with contextlib.suppress(LaunchError):
                child.confirm()
            if child.returncode is None:
                _kill_group(child.pid)
                child.wait()
            os.close(read_end)
        os.close(slot)
        return None
    log = os.path.join(root, "logs", f"{plan['hosts'][0]['name']}-{int(early.training)}.log")
    for line in plan["lines"]:  # before the pumps write the script's first line
        _log_line(log, line)
    record(root, early, [child.pid for _, child, _ in started])
    early.watchdog = _watchdog(str(plan["mark"]))
    _pump(root, early, started)
    return early


def _preload(*, supervisor: bool) -> None:
    """Import, before the kernel's message, what starting the hosts needs.

    Tens of milliseconds (the namespaces' modules, ``ctypes`` and the C library) that
    would otherwise sit between the hand-over and the first line: a new starter spends
    them while the kernel lays the job out. A starter kept ready (``supervisor``) loads
    everything else too while it waits (the log pumps, ``site``, the supervisor with
    sqlite3 and psutil), so after the hand-over no import competes with the hosts' own
    start for the CPU.
    """
    import fcntl  # noqa: F401

    from sm_magics.backends.local import namespaces, pidns, syscalls, watchdog  # noqa: F401

    if sys.platform.startswith("linux"):
        syscalls.load()
    if supervisor:
        _prepare()
        _load_supervisor()


def _load_supervisor() -> None:
    """Load ``site`` (the venv's packages) and the supervisor's modules.

    With what the supervisor imports only when first used but uses at once: ``psutil``
    (its own identity) and the ledger (the ``Training`` status).
    """
    import site

    site.main()
    import psutil  # noqa: F401

    from sm_magics import ledger  # noqa: F401
    from sm_magics.backends.local import supervisor  # noqa: F401


def _prepare() -> None:
    """Import what recording the state and pumping the logs need."""
    import json  # noqa: F401
    import threading  # noqa: F401

    from sm_magics.backends.local import logstore, statefile  # noqa: F401


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pgid, _signal.SIGKILL)


def record(root: str, early: Early, pgids: list[int]) -> None:
    """Write the statuses up to ``Training`` and the hosts' groups into ``state.json``.

    Before the pumps start, so a reader who sees the script's first line also sees the
    hosts (``host_pgids``) and ``Training``; the supervisor writes the same again later.
    """
    import json

    from sm_magics.backends import statuses
    from sm_magics.backends.local import statefile

    path = os.path.join(root, "state.json")
    with open(path) as handle:
        state = json.load(handle)
    statefile.add_transition(
        state, statuses.DOWNLOADING, statefile.DOWNLOADING_MESSAGE, early.downloading
    )
    state["training_start"] = early.training
    statefile.add_transition(state, statuses.TRAINING, statefile.TRAINING_MESSAGE, early.training)
    state["host_pgids"] = pgids
    statefile.write_json_atomic(path, state)
    keys = ("transitions", "secondary_status", "training_start", "host_pgids")
    early.recorded = {key: state[key] for key in keys}


def _watchdog(mark: str) -> int | None:
    """Fork the job's watchdog (see :mod:`.watchdog`); return the pipe's write end.

    Started here, not by the supervisor once loaded: a supervisor killed while it loads
    must still leave nothing of the job running. Forked, before the log pumps' threads
    exist: an interpreter start of its own would compete with the hosts' for the CPU.
    """
    from sm_magics.backends.local import watchdog

    try:
        return watchdog.fork(mark)
    except OSError:
        return None  # the supervisor starts one itself


def _pump(root: str, early: Early, started: list[tuple[str, Child, int]]) -> None:
    """Start one log pump per host: the script's lines reach its log from now on."""
    import threading

    from sm_magics.backends.local import logstore

    logs = os.path.join(root, "logs")
    for name, child, read_end in started:
        log = logstore.HostLog(logs, name, early.training)
        pipe = os.fdopen(read_end, "rb", buffering=0)
        reader = threading.Thread(target=logstore.pump, args=(pipe, log), daemon=True)
        reader.start()
        early.hosts.append((name, child, log, reader))


def _adopt(root: str, environ: object) -> None:
    """Become the job's process: its log, the kernel's environment now (a starter kept ready)."""
    log = os.path.join(root, "supervisor.log")
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    if isinstance(environ, dict):
        os.environ.clear()
        os.environ.update(environ)


def main() -> int:
    """Entry point: ``python -S starter.py [--ready]``; see the module docstring.

    ``--ready``: started ahead of the job, to be handed one (its log and home come then).
    """
    # The folder that holds the sm_magics package this file belongs to (the kernel's).
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.dirname(here)))
    # The log pumps are threads beside the supervisor's main loop: a line waits for the
    # GIL at most this long (the default, 5 ms, showed on every first line).
    sys.setswitchinterval(PUMP_SWITCH_INTERVAL)
    stopped: list[bool] = []
    _signal.signal(_signal.SIGTERM, lambda *_: stopped.append(True))
    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
    ready = "--ready" in sys.argv
    _preload(supervisor=ready)  # while the kernel lays the job out, or before it has one
    message = receive()
    if message is None:
        return 0  # no job after all: the creation failed, or the kernel ended
    root = str(message["root"])
    if ready:
        environ = message.get("environ")
        if isinstance(environ, dict):
            environ["SM_MAGICS_HOME"] = message["home"]
        _adopt(root, environ)
    early = start(root, message.get("plan"), stopped)
    if not ready:
        _load_supervisor()  # now the hosts run
    from sm_magics.backends.local.supervisor import main as supervise

    return supervise([root], early=early, stopped=stopped)


if __name__ == "__main__":
    sys.exit(main())
