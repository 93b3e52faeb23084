"""Model text inside a prompt: fenced, and unable to forge the fence or the turn labels.

Prompts that quote a conversation (the judge's, the model simulator's) label every turn
``[turn N] WHO:`` and wrap the conversation in ``<conversation-MARK>`` ... ``</conversation-MARK>``.
:func:`defuse` makes quoted text unable to open or close a fence or start a turn of its own,
however it is spelled: compatibility forms (fullwidth ``＜``) are folded first (NFKC), invisible
format characters (zero-width spaces, bidirectional controls) are removed, and the match ignores
case and spacing.
"""

from __future__ import annotations

import re
import unicodedata

_FENCE = re.compile(r"<\s*(/?)\s*conversation", re.I)
_TURN = re.compile(r"\[\s*turn\b", re.I)


def defuse(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text)
    visible = "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")
    visible = _FENCE.sub(lambda m: f"‹{m.group(1)}conversation", visible)
    return _TURN.sub("(turn", visible)
