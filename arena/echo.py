"""Bounded echoes of untrusted values in messages: one place decides how much of a value is shown.

Every message that repeats something the user or a file supplied (a path, a field name, a key, an
id, an exception's text) passes it through :func:`clip`, so one hostile value can never turn a
one-line error into megabytes. Lists of valid choices go through :func:`choices`. Imports nothing
heavy, so any module can use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from arena.limits import MAX_ECHO_CHARS, MAX_LISTED_CHOICES

ELLIPSIS = "…"
# "<_io.BytesIO object at 0x7fc3a1b2c3d0>": the address differs on every run.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+(?=>)")


def clip(value: object, limit: int = MAX_ECHO_CHARS) -> str:
    """``str(value)``, cut to ``limit`` characters with a visible ``…`` when it is longer."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + ELLIPSIS


def clip_path(path: object, limit: int = MAX_ECHO_CHARS) -> str:
    """A path cut in the middle when long, so its start and its file name both stay visible."""
    text = str(path)
    if len(text) <= limit:
        return text
    head = (limit - 1) * 3 // 5
    return text[:head] + ELLIPSIS + text[len(text) - (limit - 1 - head):]


def quoted(value: object, limit: int = MAX_ECHO_CHARS) -> str:
    """``repr`` of the clipped value: quotes make leading/trailing spaces and escapes visible."""
    return repr(clip(value, limit))


def choices(items: Iterable[object], *, limit: int = MAX_LISTED_CHOICES, more: str = "") -> str:
    """``a, b, c`` of at most ``limit`` items, then ``and N more`` (plus ``; more`` when given)."""
    listed = [clip(item) for item in items]
    if len(listed) <= limit:
        return ", ".join(listed) or "(none)"
    rest = len(listed) - limit
    return ", ".join(listed[:limit]) + f", and {rest} more" + (f"; {more}" if more else "")


def exception_text(exc: BaseException, limit: int = MAX_ECHO_CHARS) -> str:
    """An exception's message, stable across runs (no object addresses) and clipped."""
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror  # never the (possibly huge) file name OSError carries
    else:
        text = str(exc) or type(exc).__name__
    return clip(_ADDRESS.sub("", text), limit)
