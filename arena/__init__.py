"""Arena for image-grounded clinical conversations.

Importing ``arena`` loads nothing else: every name below is re-exported lazily (loaded on first
attribute access), so any module of ``arena``, ``agents`` or ``scenarios`` can be imported first
in a fresh interpreter, and the ``arena`` console script (``arena.entry``) starts without paying
for pydantic, rich or langgraph before it can handle Ctrl-C.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from arena.clients.base import prepare_messages
    from arena.composition import create_client
    from arena.encounter.run import run_encounter
    from arena.errors import ArenaError, ModelError, ScenarioError, UsageError
    from arena.protocols import Judge, ModelClient, Simulator
    from arena.schemas import Mode, Scenario, TerminationReason, Transcript, Verdict

_LAZY = {
    "ArenaError": "arena.errors",
    "ModelError": "arena.errors",
    "ScenarioError": "arena.errors",
    "UsageError": "arena.errors",
    "Mode": "arena.schemas",
    "Scenario": "arena.schemas",
    "TerminationReason": "arena.schemas",
    "Transcript": "arena.schemas",
    "Verdict": "arena.schemas",
    "ModelClient": "arena.protocols",
    "Judge": "arena.protocols",
    "Simulator": "arena.protocols",
    "prepare_messages": "arena.clients.base",
    "create_client": "arena.composition",
    "run_encounter": "arena.encounter.run",
}

__all__ = [
    "ArenaError",
    "Judge",
    "Mode",
    "ModelClient",
    "ModelError",
    "Scenario",
    "ScenarioError",
    "Simulator",
    "TerminationReason",
    "Transcript",
    "UsageError",
    "Verdict",
    "create_client",
    "prepare_messages",
    "run_encounter",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'arena' has no attribute {name!r}")
