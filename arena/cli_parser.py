"""Argument parsing for ``arena``: every mistake is one line naming the valid choices.

argparse prints a usage block and exits on its own; here a parse error becomes a ``UsageError``
that ``arena.cli.main`` prints as one line with exit code 2. Unknown options are reported with the
command's valid options (and the closest one), help shows every default.
"""

from __future__ import annotations

import argparse
import difflib
import re
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import NoReturn

from arena.echo import choices, quoted
from arena.errors import UsageError
from arena.limits import MAX_TURNS

MAX_SEED = 2**63 - 1


class HelpFormatter(argparse.HelpFormatter):
    """Shows ``(default: X)`` for options that have a meaningful default."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if "default" in text or default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


class ArenaParser(argparse.ArgumentParser):
    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")

    def _check_value(self, action: argparse.Action, value: object) -> None:
        """argparse's check, with the rejected value clipped (it echoes the value whole)."""
        if action.choices is not None and value not in action.choices:  # type: ignore[operator]
            valid = choices(repr(choice) for choice in action.choices)  # type: ignore[union-attr]
            raise argparse.ArgumentError(action, f"invalid choice: {quoted(value)} (choose from {valid})")


_ASCII_INT = re.compile(r"-?[0-9]{1,30}")


_ASCII_FLOAT = re.compile(r"[0-9]+(\.[0-9]+)?")


def float_in(low: float, high: float) -> Callable[[str], float]:
    """An argument type: a plain non-negative decimal (ASCII digits, an optional fraction; no
    exponent, ``inf`` or ``nan``) in ``low..high``."""

    def parse(text: str) -> float:
        problem = f"must be a number from {low:g} to {high:g}, got {quoted(text)}"
        if not _ASCII_FLOAT.fullmatch(text) or not low <= float(text) <= high:
            raise argparse.ArgumentTypeError(problem)
        return float(text)

    parse.__name__ = "number"
    return parse


def int_in(low: int, high: int) -> Callable[[str], int]:
    """An argument type: ASCII digits only (``int()`` would also take ``٣``, ``1_000`` and `` 5 ``),
    a leading minus only when ``low`` is negative, and a value in ``low..high``."""

    def parse(text: str) -> int:
        problem = f"must be an integer from {low} to {high}, got {quoted(text)}"
        if not _ASCII_INT.fullmatch(text) or (text.startswith("-") and low >= 0):
            raise argparse.ArgumentTypeError(problem)
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(problem)
        return value

    parse.__name__ = "integer"
    return parse


turns_arg = int_in(1, MAX_TURNS)
seed_arg = int_in(0, MAX_SEED)


def path_arg(text: str) -> Path:
    if not text or "\x00" in text:
        raise argparse.ArgumentTypeError("must be a non-empty path without NUL bytes")
    return Path(text)


def version() -> str:
    try:
        return metadata.version("clinical-image-arena")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def long_options(parser: argparse.ArgumentParser) -> list[str]:
    return sorted({s for action in parser._actions for s in action.option_strings if s.startswith("--")})


def subcommands(parser: argparse.ArgumentParser) -> list[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    return []


def reject_extras(parser: argparse.ArgumentParser, extras: Sequence[str]) -> None:
    """Raise a one-line ``UsageError`` for the first argument ``parser`` did not recognise."""
    if not extras:
        return
    first = extras[0]
    if first.startswith("-"):
        options = long_options(parser)
        guess = difflib.get_close_matches(first.split("=", 1)[0][:100], options, n=1, cutoff=0.7)
        hint = f" (did you mean {guess[0]}?)" if guess else ""
        raise UsageError(f"unknown option {quoted(first)} for {parser.prog}{hint}; "
                         f"valid: {choices(options, limit=100)}")
    raise UsageError(f"unexpected argument {quoted(first)} for {parser.prog} (see {parser.prog} --help)")


def _option_strings(parser: argparse.ArgumentParser) -> set[str]:
    return {s for action in parser._actions for s in action.option_strings}


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(name)
    return None


def precheck_options(root: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    """Name an unknown option before argparse complains about anything else.

    argparse checks required arguments before it reports unrecognised ones, so ``arena --bogus`` or
    ``arena match --bogus`` would say "missing command" or "--scenario is required". This walks the
    tokens, follows the (sub)command names, and rejects the first option the chosen command lacks.
    """
    parser = root
    allowed = _option_strings(root)
    for token in argv:
        if token == "--":
            break
        if token.startswith("-") and len(token) > 1 and not token[1].isdigit() and token != "-":
            if token.split("=", 1)[0] not in allowed:
                reject_extras(parser, [token])
            continue
        nested = _subparser(parser, token)
        if nested is not None:
            parser = nested
            allowed = _option_strings(nested)


def require_command(parser: argparse.ArgumentParser, chosen: str | None, what: str = "command") -> None:
    if chosen is None:
        raise UsageError(f"missing {what} for {parser.prog}; valid: {', '.join(subcommands(parser))} "
                         f"(see {parser.prog} --help)")
