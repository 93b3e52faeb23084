"""Everything the arena prints: model and case text is untrusted, so it is neutralised first.

* :func:`neutralise` makes terminal control characters, escape sequences, bidirectional overrides
  and invisible format characters visible instead of active (ESC becomes ``␛``, U+202E becomes
  ``<U+202E>``, a tag character U+E0041 becomes ``<U+E0041>``).
* :class:`SafeConsole` is a rich console that never interprets markup or emoji in strings, and
  that neutralises every text segment it renders, whatever renderable it came from (tables,
  JSON, status lines): one chokepoint rather than a call at every print.
* :func:`dumps_json` writes JSON with every non-ASCII character escaped, so ``--json`` output
  cannot carry raw controls either; :func:`error_line` is the one-line stderr message.
"""

from __future__ import annotations

import errno
import json
import re
from collections.abc import Iterable
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment

from arena.echo import clip
from arena.limits import MAX_ERROR_LINE_CHARS

# Made visible: C0 controls except tab and newline, DEL, C1 controls, line/paragraph separators,
# lone surrogates, and every format character (Unicode category Cf: the soft hyphen, Arabic and
# Syriac format marks, the Mongolian vowel separator, zero-width characters and joiners, bidi
# marks, embeddings, overrides and isolates, invisible operators, deprecated format controls
# U+206A-U+206F, BOM, interlinear annotation U+FFF9-U+FFFB, Kaithi, Egyptian, shorthand and musical
# format controls, and the tag characters U+E0000-U+E007F), plus the variation selectors
# supplement U+E0100-U+E01EF (invisible; a known way to smuggle hidden text). tests check the Cf
# part against unicodedata.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e007f\U000e0100-\U000e01ef]"
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

    def on_broken_pipe(self) -> None:
        """The reader went away: stop printing and let ``arena.cli.main`` exit 141, as with ``--json``
        (rich's default is ``SystemExit(1)``)."""
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

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
    """The one line printed on stderr for a user error: neutralised, and at most
    ``MAX_ERROR_LINE_CHARS`` long whatever the message repeats."""
    return f"arena: error: {clip(neutralise(message, single_line=True), MAX_ERROR_LINE_CHARS)}"
