"""Run a job's host (or a serving worker) with ``/opt/ml`` and ``algo-N`` of its own.

On Linux, without root, a process may create its own user, mount and UTS namespaces.
Inside them this module, used as a launcher, makes the container's absolute paths and host
names true for the one command it then executes in its place:

- ``/opt/ml`` is the job's (or host's) folder, bind-mounted on a private ``/opt`` (a
  tmpfs that carries every original entry of ``/opt`` bind-mounted back, so nothing the
  machine keeps there disappears);
- ``/etc/hosts`` gains ``algo-1 .. algo-N`` (all this machine), and the host name is
  ``algo-N``, so ``socket.gethostbyname("algo-1")`` and ``MASTER_ADDR=algo-1`` work;
- the user id stays the caller's (mapped to itself), so files are owned as usual and the
  script does not run as root;
- with ``pid`` (training hosts), a PID namespace too, whose init (:mod:`.pidns`) runs the
  command and, when it ends, ends everything it started.

Nothing changes outside the namespaces: other processes see neither mount. Where the
kernel refuses (macOS, ``kernel.unprivileged_userns_clone=0``, seccomp in some
containers), :func:`probe` says why and callers keep the job-folder layout.

Run as ``python -m sm_magics.backends.local.namespaces --opt-ml DIR --hostname algo-2
--hosts algo-1,algo-2 [--cwd DIR] -- command ...`` (a training host), ``... --model DIR
-- command`` (a serving worker: ``/opt/ml/model`` is ``DIR``) or ``... --probe``; a
training job's starter calls :func:`setup` in the child it forks instead (no interpreter
start of its own).
"""

# os.path, not pathlib: setup() runs before a job's first line (see below).
# ruff: noqa: PTH102, PTH103, PTH112, PTH114, PTH115, PTH118, PTH208, PTH211

from __future__ import annotations

import os
import sys

# Only os and sys at import time: a job's starter (:mod:`.starter`) enters namespaces in
# the child it forks, before the first line, and every import here would delay it.
from sm_magics.backends.local.syscalls import (
    MS_BIND,
    MS_PRIVATE,
    MS_REC,
    NamespaceError,
    check,
    load,
    mount,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
OPT_ML = "/opt/ml"
_MODULE = "sm_magics.backends.local.namespaces"  # not __name__: it is __main__ when run


def _enter(hostname: str | None, pid: bool = False) -> None:
    uid, gid = os.getuid(), os.getgid()
    libc = load()
    flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWUTS | (CLONE_NEWPID if pid else 0)
    check(libc.unshare(flags), "unshare")
    # The kernel's only interface for a user namespace's id maps (writes, not process
    # inspection, which goes through psutil everywhere else).
    own = os.path.join("/", "proc", "self")
    _write(os.path.join(own, "setgroups"), "deny")
    _write(os.path.join(own, "uid_map"), f"{uid} {uid} 1")
    _write(os.path.join(own, "gid_map"), f"{gid} {gid} 1")
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    if hostname:
        name = hostname.encode()
        check(libc.sethostname(name, len(name)), "sethostname")


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _private_opt(opt_ml: str | None, model: str | None, scratch: str) -> None:
    """Put ``opt_ml`` at ``/opt/ml`` (and ``model`` at ``/opt/ml/model``), real ``/opt`` untouched.

    A serving worker has no job folder: its ``/opt/ml`` is an empty folder of the private
    ``/opt`` holding only ``model``, as in SageMaker's inference containers.
    """
    original = os.path.join(scratch, "opt")
    os.mkdir(original)
    if os.path.isdir("/opt"):
        mount("/opt", original, None, MS_BIND | MS_REC)
    else:
        raise NamespaceError(2, "/opt does not exist and cannot be created without root")
    mount("tmpfs", "/opt", "tmpfs", 0)
    for name in sorted(os.listdir(original)):
        if name == "ml":
            continue
        entry, target = os.path.join(original, name), os.path.join("/opt", name)
        if os.path.islink(entry):
            os.symlink(os.readlink(entry), target)
            continue
        if os.path.isdir(entry):
            os.mkdir(target)
        else:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o644))
        mount(entry, target, None, MS_BIND | MS_REC)
    os.mkdir(OPT_ML)
    if opt_ml is not None:
        mount(opt_ml, OPT_ML, None, MS_BIND | MS_REC)
    if model is not None:
        target = os.path.join(OPT_ML, "model")
        os.makedirs(target, exist_ok=True)
        mount(model, target, None, MS_BIND | MS_REC)


def _hosts_file(hosts: list[str], scratch: str) -> str:
    try:
        with open("/etc/hosts") as handle:
            base = handle.read()
    except OSError:
        base = "127.0.0.1 localhost\n"
    lines = [base.rstrip("\n"), "# sm-magics: the job's hosts are this machine"]
    lines += [f"127.0.0.1 {host}" for host in hosts]
    path = os.path.join(scratch, "hosts")
    _write(path, "\n".join(lines) + "\n")
    return path


def scratch_dir() -> str:
    """Make a private scratch folder for :func:`setup` (before forking: no ``tempfile``)."""
    base = os.environ.get("TMPDIR") or "/tmp"  # noqa: S108 - mode 0700, unique name
    while True:
        path = os.path.join(base, f"sm-magics-ns-{os.getpid()}-{os.urandom(4).hex()}")
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        return path


def setup(
    opt_ml: str | os.PathLike[str] | None,
    hostname: str | None,
    hosts: list[str],
    model: str | os.PathLike[str] | None = None,
    *,
    scratch: str | None = None,
    pid: bool = False,
) -> None:
    """Enter new namespaces and arrange ``/opt/ml``, ``/etc/hosts`` and the host name.

    ``scratch`` (default: a new folder) holds the mount points and the hosts file; they
    matter only inside our private mount namespace, and are small: whoever made the
    folder removes it once the process ended (else the OS temp cleaner does). With
    ``pid`` a PID namespace too, which this process's next child enters as its init:
    call :func:`.pidns.launch` next.
    """
    _enter(hostname, pid)
    scratch = scratch or scratch_dir()
    if hosts:
        mount(_hosts_file(hosts, scratch), "/etc/hosts", None, MS_BIND)
    if opt_ml is not None or model is not None:
        _private_opt(
            None if opt_ml is None else os.fspath(opt_ml),
            None if model is None else os.fspath(model),
            scratch,
        )


_probed: dict[str, tuple[str | None, str | None]] = {}


def probe() -> str | None:
    """Return ``None`` when namespaces work here, else the reason they do not.

    Tried once per process in a child (entering namespaces cannot be undone).
    """
    if "reasons" not in _probed:
        _probed["reasons"] = _probes()
    return _probed["reasons"][0]


def probe_pid() -> str | None:
    """Return ``None`` when a PID namespace works too (its ``/proc`` mounted), else why not.

    Some container runtimes allow user and mount namespaces but refuse mounting a new
    ``/proc`` (parts of theirs are masked); hosts then run without the PID namespace.
    """
    probe()
    return _probed["reasons"][1]


def _probes() -> tuple[str | None, str | None]:
    if not sys.platform.startswith("linux"):
        reason = f"user and mount namespaces exist only on Linux (this is {sys.platform})"
        return reason, reason
    with_pid = _try(pid=True)
    if with_pid is None:
        return None, None  # one probe where everything works (the usual case)
    without = _try(pid=False)
    return without, with_pid if without is None else without


def _try(pid: bool) -> str | None:
    """Run a small check under this launcher; return ``None`` if it passed, else why not."""
    import subprocess
    import tempfile
    from pathlib import Path

    check = "import os, socket; assert os.path.isdir('/opt/ml'); socket.gethostbyname('algo-1')"
    if pid:
        check += "; assert os.getpid() == 2, 'not in a PID namespace'"
    with tempfile.TemporaryDirectory(prefix="sm-magics-probe-") as folder:
        command = wrap(
            [sys.executable, "-c", check],
            opt_ml=Path(folder),
            hostname="algo-1",
            hosts=["algo-1"],
            cwd=folder,
            pid=pid,
        )
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return str(exc)
    if result.returncode == 0:
        return None
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return lines[-1] if lines else f"exit code {result.returncode}"


def wrap(
    command: list[str],
    *,
    opt_ml: Path | None,
    hostname: str | None,
    hosts: list[str],
    cwd: str,
    model: Path | None = None,
    pid: bool = False,
) -> list[str]:
    """Return ``command`` prefixed with this launcher."""
    prefix = [sys.executable, "-m", _MODULE, "--hosts", ",".join(hosts), "--cwd", cwd]
    if opt_ml is not None:
        prefix += ["--opt-ml", str(opt_ml)]
    if model is not None:
        prefix += ["--model", str(model)]
    if hostname:
        prefix += ["--hostname", hostname]
    if pid:
        prefix.append("--pid")
    return [*prefix, "--", *command]


def unwrap(command: list[str]) -> list[str]:
    """Return the command :func:`wrap` launches (``command`` itself if not wrapped)."""
    if command[1:3] == ["-m", _MODULE] and "--" in command:
        return command[command.index("--") + 1 :]
    return command


def main(argv: list[str] | None = None) -> int:
    """Entry point; see the module docstring."""
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--opt-ml", type=Path, default=None)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--hostname", default=None)
    parser.add_argument("--hosts", default="")
    parser.add_argument("--cwd", default=None)
    parser.add_argument("--pid", action="store_true")
    parser.add_argument("--probe", action="store_true")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.probe:
        reason = probe()
        print(reason or "namespaces available")
        print(probe_pid() or "PID namespace available")
        return 0 if reason is None else 1
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    try:
        hosts = [h for h in args.hosts.split(",") if h]
        setup(args.opt_ml, args.hostname, hosts, args.model, pid=args.pid)
    except OSError as exc:
        print(f"sm-magics: could not enter namespaces: {exc}", file=sys.stderr)
        return 126
    if args.cwd:
        os.chdir(args.cwd)
    if args.pid:
        from sm_magics.backends.local import pidns

        pidns.launch(command, None, None)
    os.execvp(command[0], command)  # noqa: S606 - the job's own command, as given


if __name__ == "__main__":
    sys.exit(main())
