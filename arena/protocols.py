"""The seams of the arena, in one place: what a model, a simulator and a judge must provide.

``arena`` owns these protocols and the orchestration around them; ``agents`` implements them
(rule-based and model-backed simulators, the rubric and model judges, the reference models); the
composition root (``arena/composition.py``) is the only module of ``arena`` that imports
``agents``. The encounter graph receives everything through its runtime context.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from arena.errors import ArenaError
from arena.schemas.messages import ModelRequest, ModelResponse
from arena.schemas.scenario import Mode, Scenario
from arena.schemas.transcript import Ablation, Assessment, Move, SimulatorFault, TerminationReason, Transcript, Turn
from arena.schemas.verdict import Verdict

if TYPE_CHECKING:
    from arena.gateway import Gateway
    from arena.schemas.calls import ModelCall


# ------------------------------------------------------------------ models


@runtime_checkable
class ModelClient(Protocol):
    """An async chat model, whatever its role (target, simulator, judge).

    ``supports_images`` False means every image is replaced by a note before the call. Optional
    attributes a client may carry (read with defaults by :func:`arena.clients.base.traits_of`):
    ``traits`` (:class:`arena.clients.base.ClientTraits`: endpoint, image limits, concurrency,
    retries, prices, whether responses may be cached)."""

    name: str
    supports_images: bool

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """Return the assistant's next message for ``request.messages``."""
        ...


@runtime_checkable
class EncounterBound(Protocol):
    """A model that must know the encounter before it can answer (the reference truth readers).

    The runner calls ``for_encounter`` once per encounter; real providers do not implement it, so
    building a client never needs a scenario."""

    def for_encounter(self, scenario: Scenario, seed: int) -> ModelClient: ...


# ------------------------------------------------------------------ simulator


@dataclass(frozen=True)
class PolicyView:
    """What the policy may look at. Built from the encounter state each turn."""

    scenario: Scenario
    moves: list[Move]
    assessments: list[Assessment]
    priors_shown: bool
    simulator_turns: int
    max_turns: int
    mode: Mode | None = None
    images_shown: bool = True  # False under the image ablation: no comparison can be asked for


@dataclass(frozen=True)
class Decision:
    move: Move | None = None
    stop: TerminationReason | None = None


class SimulatorPolicy(Protocol):
    """Where the next move is chosen: sees the conversation so far, returns a move or a stop."""

    name: str

    def decide(self, view: PolicyView) -> Decision: ...


AnswerReader = Callable[[Scenario, str, int, list[Assessment]], Assessment]
"""Reads one target answer into an :class:`Assessment` (findings, diagnosis, confidence...):
``reader(scenario, text, turn_index, previous_assessments)``."""


@dataclass(frozen=True)
class VoiceRequest:
    """What the voice needs to put one move into words."""

    scenario: Scenario
    mode: Mode
    move: Move
    seed: int
    turn: int
    disclosed: list[str]
    disclosed_before: list[str]
    alternative_to: str | None
    turns: Sequence[Turn]
    assessments: Sequence[Assessment]
    gateway: Gateway
    scope: str = ""
    ablation: Ablation | None = None  # what the target is not given (the voice never refers to it)


@dataclass
class Utterance:
    """The simulator's next message. ``move`` may differ from the planned one (a model voice that
    ends the conversation turns it into a close); ``calls`` and ``faults`` go to the transcript."""

    text: str
    move: Move
    calls: list[ModelCall] = field(default_factory=list)
    faults: list[SimulatorFault] = field(default_factory=list)


class SimulatorVoice(Protocol):
    """Voices a move as the patient or the clinician (templates, or a model)."""

    name: str

    async def speak(self, request: VoiceRequest) -> Utterance: ...


class SimulatorError(ArenaError):
    """The simulator could not produce a message (its model failed): an infrastructure error."""

    def __init__(self, message: str, calls: list[ModelCall] | None = None) -> None:
        super().__init__(message)
        self.calls = list(calls or [])


@dataclass(frozen=True)
class Simulator:
    """The simulated patient or clinician: a policy, an answer reader and a voice."""

    policy: SimulatorPolicy
    reader: AnswerReader
    voice: SimulatorVoice

    @property
    def name(self) -> str:
        if self.voice.name == "template":
            return self.policy.name
        return f"{self.policy.name}+{self.voice.name}"


# ------------------------------------------------------------------ judge


class NotGradeable(ValueError):
    """The transcript ended in an infrastructure error: it must not be scored."""


class JudgeFailed(ArenaError):
    """The judge gave no valid verdict after its bounded repair attempts: recorded, never guessed."""

    def __init__(self, message: str, calls: list[ModelCall] | None = None) -> None:
        super().__init__(message)
        self.calls = list(calls or [])


class Judge(Protocol):
    """Grades a transcript. ``calls``, when given, receives a record of every model call made."""

    name: str

    async def judge(self, transcript: Transcript, scenario: Scenario, *,
                    calls: list[ModelCall] | None = None) -> Verdict: ...
