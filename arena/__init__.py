"""Arena for image-grounded clinical conversations.

The public surface is re-exported here; the modules behind it are free to move.
"""

from arena.clients.base import ModelClient, prepare_messages
from arena.clients.registry import create_client
from arena.encounter.run import run_encounter
from arena.errors import ArenaError, ModelError, ScenarioError, UsageError
from arena.schemas import Mode, Scenario, TerminationReason, Transcript, Verdict

__all__ = [
    "ArenaError",
    "Mode",
    "ModelClient",
    "ModelError",
    "Scenario",
    "ScenarioError",
    "TerminationReason",
    "Transcript",
    "UsageError",
    "Verdict",
    "create_client",
    "prepare_messages",
    "run_encounter",
]
