"""How every ``%sm_*`` magic reads its line: expansion, shell quoting, shared options, ``-o``.

One decorator, :func:`magic_call`, does the steps every magic repeats: parse the line
(``{name}`` expansion, shell quoting), reject a bad ``-o VAR`` before anything is created,
turn the package's errors into one ``UsageError`` line, and bind the result to ``-o VAR``.
The magic's body gets the parsed arguments and returns its result.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import shlex
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from IPython.core.error import UsageError
from IPython.core.magic import Magics
from IPython.core.magic_arguments import argument

from sm_magics.errors import SmMagicsError

if TYPE_CHECKING:
    from sm_magics.json_types import JsonValue

F = TypeVar("F", bound=Callable[..., object])


_NEGATIVE_VALUE = re.compile(r"^-\.?\d")
_NAME_REF = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\}")


def expand_names(line: str, namespace: Mapping[str, object]) -> str:
    r"""Replace ``{name}`` and ``{name.attr}`` by their values in ``namespace``.

    This replaces IPython's variable expansion for our magics (they are marked
    ``no_var_expand``): IPython evaluates any ``{...}`` as Python, so the regex
    ``\d{1,3}`` of a ``--metric`` silently became ``\d(1, 3)``. Here only a name (with
    attributes) that resolves is replaced; anything else, such as a regex quantifier, stays
    as typed. ``{{`` and ``}}`` stand for literal braces, as in IPython.
    """

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        root, *attributes = match.group(1).split(".")
        if root not in namespace:
            return token
        value = namespace[root]
        try:
            for attribute in attributes:
                value = getattr(value, attribute)
        except Exception:  # noqa: BLE001 - a property that raises: leave the text as typed
            return token
        try:
            return str(value)
        except Exception as exc:  # noqa: BLE001 - whatever a user's object raises
            raise UsageError(
                f"Cannot put {token} into the line: its value raised "
                f"{type(exc).__name__} ({exc}). Write the value itself, or {{{{...}}}} for "
                "literal braces."
            ) from None

    return _NAME_REF.sub(replace, line)


def _check_text(line: str) -> None:
    """Refuse what no name, path or value can hold, before anything reads a file.

    A NUL byte ends a path for the operating system (Python refuses it deep inside
    ``open``); a lone surrogate cannot be written as UTF-8 to a file, a log or SQLite.
    """
    if "\x00" in line:
        raise UsageError("The line contains a NUL byte (\\x00); no name, path or value may.")
    try:
        line.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = line[exc.start : exc.end]
        raise UsageError(
            f"The line contains {bad!a}, a lone surrogate that is not text; remove it."
        ) from None


def parse_line(
    magic: object, line: str, namespace: Mapping[str, object] | None = None
) -> argparse.Namespace:
    """Expand ``{name}`` references, then parse with shell quoting, as users type it.

    IPython's own ``parse_argstring`` splits in non-POSIX mode: quotes stay inside the
    values (``--metric "loss=loss: (.+)"`` gave a metric named ``"loss``) and an unclosed
    quote raised ``ValueError``. Here quotes group and are removed, backslashes are kept
    as typed (regexes, Windows paths), ``#`` is not a comment, and unbalanced quotes are
    a ``UsageError``.
    """
    if namespace is not None:
        line = expand_names(line, namespace)
    _check_text(line)
    lexer = shlex.shlex(line, posix=True)
    lexer.whitespace_split = True
    lexer.escape = ""
    lexer.commenters = ""
    try:
        argv = list(lexer)
    except ValueError as exc:
        raise UsageError(f"Cannot read the arguments: {exc} (unbalanced quotes?).") from None
    parser: argparse.ArgumentParser = vars(magic)["parser"]  # what @magic_arguments set
    # argparse takes "-1.2," (a negative number inside a JSON or CSV literal) for an
    # unknown option, since only a bare "-1.2" looks like a number to it; no option of
    # ours starts with a digit, so anything that does is a value.
    parser._negative_number_matcher = _NEGATIVE_VALUE
    try:
        args: argparse.Namespace = parser.parse_args(argv)
    except UsageError as exc:
        hint = suggest_option(parser, argv)
        if hint:
            raise UsageError(f"{exc} {hint}") from None
        raise
    return args


def suggest_option(parser: argparse.ArgumentParser, argv: list[str]) -> str:
    """Return "Did you mean --input?" for the first mistyped ``--flag`` of ``argv``.

    argparse alone says "unrecognized arguments: --inptu data"; the closest option names
    the fix. Abbreviations argparse accepts (a unique prefix) are not mistakes, and
    nothing after a bare ``--`` is looked at.
    """
    import difflib

    known = [s for action in parser._actions for s in action.option_strings]
    for word in argv:
        if word == "--":
            break
        if not word.startswith("--"):
            continue
        flag = word.split("=", 1)[0]
        if flag in known or any(k.startswith(flag) for k in known):
            continue
        close = difflib.get_close_matches(flag, known, n=1, cutoff=0.6)
        if close:
            return f"Did you mean {close[0]}?"
    return ""


@overload
def parse_key_values(
    items: list[list[str]] | None, flag: str, *, json_values: Literal[False]
) -> dict[str, str]: ...


@overload
def parse_key_values(
    items: list[list[str]] | None, flag: str, *, json_values: bool
) -> dict[str, JsonValue]: ...


def parse_key_values(
    items: list[list[str]] | None, flag: str, *, json_values: bool
) -> dict[str, JsonValue] | dict[str, str]:
    """Return ``{"k": v}`` from ``--flag k=v`` occurrences (each may carry several pairs).

    With ``json_values``, a value that is valid JSON is decoded (``3`` → int, ``true`` →
    bool, ``[1,2]`` → list); anything else stays a string.
    """
    result: dict[str, JsonValue] = {}
    for group in items or []:
        for item in group:
            key, sep, value = item.partition("=")
            key = key.strip()
            if not sep or not key:
                raise UsageError(f"{flag} expects KEY=VALUE, got {item!r}.")
            if json_values:
                try:
                    result[key] = json.loads(value)
                except ValueError:
                    result[key] = value
            else:
                result[key] = value
    return result


class KeyValues(argparse.Action):
    """``--flag k=v [k2=v2 ...]``, repeatable, parsed into one ``{"k": "v"}`` on the way in.

    So the parsed arguments already have the spec's types and a magic passes them on by
    name (:func:`options_of`) instead of converting each one.
    """

    json_values = False

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        """Merge this occurrence's pairs into the ones parsed so far."""
        merged = dict(getattr(namespace, self.dest, None) or {})
        items = [str(v) for v in values] if isinstance(values, (list, tuple)) else [str(values)]
        flag = option_string or self.dest
        merged.update(parse_key_values([items], flag, json_values=self.json_values))
        setattr(namespace, self.dest, merged)


class JsonKeyValues(KeyValues):
    """:class:`KeyValues` whose values are decoded when they are JSON (``3``, ``true``)."""

    json_values = True


def options_of(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, Any]:
    """Return the parsed arguments named ``names`` (a spec's options), as keywords."""
    return {name: getattr(args, name) for name in names if hasattr(args, name)}


def backend_option(func: F) -> F:
    """Add the shared ``-b/--backend`` option."""
    return argument(  # type: ignore[no-any-return]
        "-b",
        "--backend",
        choices=None,
        default=None,
        help="Backend to use: local (default) or sagemaker.",
    )(func)


def force_option(func: F) -> F:
    """Add the shared ``--force`` option: go ahead over the budget guard's limit."""
    return argument(  # type: ignore[no-any-return]
        "--force",
        action="store_true",
        help="Go ahead even over SageMakerMagics.max_hourly_cost (the budget guard).",
    )(func)


def out_option(func: F) -> F:
    """Add the shared ``-o/--out VAR`` option."""
    return argument(  # type: ignore[no-any-return]
        "-o",
        "--out",
        metavar="VAR",
        default=None,
        help="Also bind the returned handle to this variable.",
    )(func)


def check_out(name: str | None) -> None:
    """Reject a bad ``-o`` name before anything is created or changed."""
    if name and not name.isidentifier():
        raise UsageError(f"-o/--out expects a Python name, got {name!r}.")


def bind_out(shell: object, name: str | None, value: object) -> None:
    """Bind ``value`` to the user's ``-o`` variable, if one was given."""
    if name:
        check_out(name)
        namespace = getattr(shell, "user_ns", None)
        assert isinstance(namespace, dict)  # magics are only called through a shell
        namespace[name] = value


def user_namespace(shell: object) -> dict[str, object]:
    """Return the notebook's namespace (empty outside a shell)."""
    namespace = getattr(shell, "user_ns", None)
    return namespace if isinstance(namespace, dict) else {}


#: A magic's body: ``(self, args)`` or ``(self, args, cell)``, returning its result.
Body = Callable[..., object]


def _file_error(exc: Exception) -> Exception:
    """Return the ``UsageError`` for a file the magic could not use, else ``exc`` itself.

    A full disk, a damaged ledger, a path the file system refuses (too long, a loop of
    links, a NUL byte): one line naming the file and what to do, not a traceback from
    ``sqlite3`` or ``os``. Anything else is re-raised as it was: a bug must stay visible.
    """
    from sm_magics import config, storage

    if isinstance(exc, ValueError):
        if "null byte" in str(exc) or "null character" in str(exc):
            return UsageError("A path or name contains a NUL byte (\\x00); remove it.")
        return exc
    if isinstance(exc, OSError):
        error = storage.from_os_error(exc)
        if error is not None:
            return UsageError(str(error))
        if exc.filename is not None:
            return UsageError(f"Cannot use {exc.filename!r}: {exc.strerror or exc}.")
        return exc
    error = storage.from_sqlite_error(exc, config.home_dir() / "ledger.sqlite")  # type: ignore[arg-type]
    return exc if error is None else UsageError(str(error))


#: Lines remembered per magic by ``magic_call(memo=True)``.
_MEMO_SIZE = 32


def magic_call(
    *, expand: bool = True, memo: bool = False
) -> Callable[[Body], Callable[..., object]]:
    """Make ``body(self, args[, cell])`` a magic taking ``(self, line[, cell])``.

    The steps every magic repeats, once: the line is parsed with the parser that
    ``@magic_arguments`` attaches (``{name}`` references expanded unless ``expand`` is
    false, for a magic that expands some arguments itself); a bad ``-o`` name is refused
    before the body runs; the package's errors become one ``UsageError`` line; and the
    body's result is bound to ``-o VAR`` when the magic has that option. A body that
    blocks after creating something (``--wait``) binds early with :func:`bind_out`, so a
    failed wait still leaves the handle in the variable.

    ``memo`` (only with ``expand=False``: then a line parses the same every time) keeps the
    parse of the last lines, for a magic called in a loop (``%sm_invoke``: argparse and
    shlex were a third of its own time per call).
    """
    if memo and expand:
        raise ValueError("memo needs expand=False: an expanded line depends on the namespace")

    def decorate(body: Body) -> Callable[..., object]:
        parsed: dict[str, argparse.Namespace] = {}

        def parse(line: str, namespace: Mapping[str, object] | None) -> argparse.Namespace:
            if not memo:
                return parse_line(magic, line, namespace)
            known = parsed.get(line)
            if known is None:
                known = parse_line(magic, line, namespace)
                if len(parsed) >= _MEMO_SIZE:
                    parsed.pop(next(iter(parsed)))
                parsed[line] = known
            return argparse.Namespace(**vars(known))  # the body may change its copy

        @functools.wraps(body)
        def magic(self: Magics, line: str, cell: str | None = None) -> object:
            try:
                namespace = user_namespace(self.shell) if expand else None
                args = parse(line, namespace)
                args.raw_line = line  # as typed, for a magic that reads some of it itself
                out = getattr(args, "out", None)
                check_out(out)
                result = body(self, args) if cell is None else body(self, args, cell)
            except SmMagicsError as exc:
                raise UsageError(str(exc)) from None
            except (OSError, ValueError) as exc:
                raise _file_error(exc) from None
            except Exception as exc:
                if type(exc).__module__ != "sqlite3":
                    raise
                raise _file_error(exc) from None
            bind_out(self.shell, out, result)
            return result

        return magic

    return decorate


__all__ = [
    "JsonKeyValues",
    "KeyValues",
    "backend_option",
    "bind_out",
    "check_out",
    "expand_names",
    "force_option",
    "magic_call",
    "options_of",
    "out_option",
    "parse_key_values",
    "parse_line",
    "suggest_option",
    "user_namespace",
]
