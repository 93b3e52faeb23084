"""Everything the arena prints: model and case text is untrusted, so it is neutralised first.

* :func:`neutralise` makes terminal control characters, escape sequences and bidirectional
  overrides visible instead of active (ESC becomes ``␛``, U+202E becomes ``<U+202E>``).
* :class:`SafeConsole` is a rich console that never interprets markup or emoji in strings, and
  that neutralises every text segment it renders, whatever renderable it came from (tables,
  JSON, status lines): one chokepoint rather than a call at every print.
* :func:`dumps_json` writes JSON with every non-ASCII character escaped, so ``--json`` output
  cannot carry raw controls either; :func:`error_line` is the one-line stderr message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment

# C0 controls except tab and newline, DEL, C1 controls, bidi embeddings/overrides/isolates, the
# Arabic letter mark, zero-width and line/paragraph separators, BOM, and lone surrogates.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]"
)
_UNSAFE_OR_NEWLINE = re.compile(_UNSAFE.pattern[:-1] + "\n\t]")


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # Control Pictures: ␛ for ESC, ␇ for BEL, ␍ for CR
    if code == 0x7F:
        return "\u2421"
    return f"<U+{code:04X}>"


def neutralise(text: str, *, single_line: bool = False) -> str:
    """``text`` with every control or direction-changing character made visible and inert."""
    pattern = _UNSAFE_OR_NEWLINE if single_line else _UNSAFE
    if not pattern.search(text):
        return text
    return pattern.sub(_visible, text)


class SafeConsole(Console):
    """A rich console for untrusted text: no markup, no emoji codes, no highlighting, and every
    rendered text segment neutralised (rich's own control segments pass untouched)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("markup", False)
        kwargs.setdefault("emoji", False)
        kwargs.setdefault("highlight", False)
        super().__init__(**kwargs)

    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            if segment.control is None and _UNSAFE.search(segment.text):
                yield Segment(neutralise(segment.text), segment.style)
            else:
                yield segment


def make_console(**kwargs: Any) -> SafeConsole:
    """The CLI's console. Piped or captured output is not squeezed into 80 columns."""
    console = SafeConsole(**kwargs)
    if not console.is_terminal and "width" not in kwargs:
        console.width = max(console.width, 120)
    return console


def dumps_json(value: Any) -> str:
    """JSON for stdout: indented, ASCII only (every control and bidi character escaped)."""
    return json.dumps(value, indent=2, ensure_ascii=True)


def error_line(message: str) -> str:
    """The one line printed on stderr for a user error."""
    return f"arena: error: {neutralise(message, single_line=True)}"
