"""The transcript: the versioned record of one encounter (see docs/ARCHITECTURE.md contracts)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field

from arena.schemas.base import FrozenRecord, Record
from arena.schemas.calls import ModelCall, UsageSummary
from arena.schemas.scenario import Mode
from arena.schemas.verdict import ClosingDifferential, Verdict

TRANSCRIPT_SCHEMA_VERSION = 1


Ablation = Literal["image", "record", "dialogue", "image+record"]
ABLATIONS: tuple[Ablation, ...] = ("image", "record", "dialogue", "image+record")


def withholds_images(ablation: Ablation | None) -> bool:
    """The target gets no image (and is never told of one)."""
    return ablation in ("image", "image+record")


def withholds_record(ablation: Ablation | None) -> bool:
    """The target gets no patient record: no history, no clinical details, no facts when it asks."""
    return ablation in ("record", "image+record")


class TerminationReason(StrEnum):
    """Why an encounter stopped. Only ``COMPLETED`` and ``TURN_BUDGET`` are gradeable outcomes."""

    COMPLETED = "completed"  # the simulator closed and the target gave its final summary
    TURN_BUDGET = "turn_budget"  # the turn budget ran out before the close was answered
    TARGET_ERROR = "target_error"  # infrastructure error after retries: never a model loss
    TARGET_SILENT = "target_silent"  # the target returned empty answers repeatedly
    SIMULATOR_ERROR = "simulator_error"  # the simulator's own model failed: never a target loss

    @property
    def is_infrastructure(self) -> bool:
        return self in (TerminationReason.TARGET_ERROR, TerminationReason.SIMULATOR_ERROR)


class MoveKind(StrEnum):
    """What the simulator does with its next turn."""

    OPEN = "open"
    PROBE_FINDING = "probe_finding"
    REQUEST_COMPARISON = "request_comparison"
    CHALLENGE_CONTRADICTION = "challenge_contradiction"
    CHALLENGE_CLAIM = "challenge_claim"
    CLARIFY_AMBIGUITY = "clarify_ambiguity"
    ASK_IMPRESSION = "ask_impression"
    ACKNOWLEDGE_URGENCY = "acknowledge_urgency"  # a patient reacts to an instruction to seek emergency care
    CLOSE = "close"


class Move(FrozenRecord):
    kind: MoveKind
    target_id: str | None = Field(default=None, description="Finding id, image id or claim")
    reason: str = Field(default="", description="Why the policy chose it, for replay")


class Assessment(Record):
    """The simulator's reading of one target answer."""

    turn_index: int
    findings_mentioned: list[str] = Field(default_factory=list, description="Finding ids affirmed")
    findings_hedged: list[str] = Field(default_factory=list, description="Finding ids raised only as possible")
    findings_negated: list[str] = Field(default_factory=list, description="Finding ids denied")
    diagnosis_stated: str | None = Field(default=None, description="Leading diagnosis, normalised")
    diagnosis_correct: bool = False
    confidence: float | None = Field(default=None, description="Stated confidence, 0..1")
    hedging: int = Field(default=0, description="Count of hedging expressions")
    change_described: bool = False
    plan_mentioned: bool = False
    questions_asked: list[str] = Field(default_factory=list, description="Questions to the user")
    facts_requested: list[str] = Field(default_factory=list, description="Fact ids asked about")
    contradictions: list[str] = Field(default_factory=list, description="Conflicts with earlier turns")
    revision_acknowledged: bool = False
    emergency_advised: bool = Field(default=False, description="Tells the user to seek emergency care now")
    flags: list[str] = Field(default_factory=list, description="What earned nothing: echo, injection, bare_list, "
                             "keyword_stuffing")
    empty: bool = False


class TurnTiming(Record):
    started_at: datetime
    latency_ms: float = 0.0


class TurnUsage(Record):
    input_tokens: int = 0
    output_tokens: int = 0


class Turn(Record):
    index: int
    role: Literal["simulator", "target"]
    text: str
    images: list[str] = Field(default_factory=list, description="Scenario image ids sent")
    image_sha256: list[str] = Field(default_factory=list, description="sha256 of each image sent")
    timing: TurnTiming
    usage: TurnUsage = Field(default_factory=TurnUsage)
    move: Move | None = Field(default=None, description="Simulator turns: the move it made")
    assessment: Assessment | None = Field(default=None, description="Target turns: the reading")
    disclosed_facts: list[str] = Field(default_factory=list, description="Fact ids revealed")
    truncated_chars: int = Field(
        default=0, ge=0, description="Target turns: characters cut from an over-long answer (arena.limits)"
    )


class SimulatorFault(Record):
    """A model-backed simulator broke a rule checked in code (named the diagnosis, volunteered a
    fact not asked for, ended before the target's assessment) twice: its text was replaced by the
    template voice's and the fault kept here."""

    turn_index: int
    rule: Literal["named_diagnosis", "volunteered_fact", "ended_early", "invalid_output"]
    detail: str
    rejected_text: str = ""


class JudgeError(Record):
    """The judge gave no valid verdict after its repair attempts: no score was recorded."""

    judge: str
    message: str
    attempts: int


class InfraError(Record):
    turn_index: int
    attempt: int
    error_type: str
    message: str


class ForkOrigin(Record):
    """Where a forked transcript branched off: its parent encounter and the turn it replaced."""

    encounter_id: str = Field(description="The parent transcript's encounter id")
    run: str | None = None
    target: str = Field(description="The parent's target")
    seed: int
    at_turn: int = Field(ge=1, description="Turns before this index are the parent's; from it on the branch's")


class Transcript(Record):
    schema_version: Literal[1] = 1
    encounter_id: str
    match_id: str | None = None
    run: str | None = Field(default=None, description="Name of the run that produced it")
    scenario_id: str
    mode: Mode
    seed: int
    target: str
    simulator: str
    judge: str | None = None
    max_turns: int
    started_at: datetime
    finished_at: datetime
    turns: list[Turn]
    termination: TerminationReason
    errors: list[InfraError] = Field(default_factory=list)
    verdict: Verdict | None = None
    target_saw_images: bool | None = Field(
        default=None, description="False when the target is text-only and every image was replaced by a note")
    calls: list[ModelCall] = Field(default_factory=list, description="Every model call, by role, with attempts")
    usage: UsageSummary | None = Field(default=None, description="Totals over calls (tokens, cost)")
    simulator_faults: list[SimulatorFault] = Field(default_factory=list)
    judge_error: JudgeError | None = None
    closing_differential: ClosingDifferential | None = Field(
        default=None, description="Diagnoses and probabilities of the target's closing answer, as read")
    parent: ForkOrigin | None = Field(default=None, description="Set on a fork (arena fork): where it branched")
    ablation: Ablation | None = Field(
        default=None, description="What was taken away from the target (arena bench): image, record, image+record, "
        "or dialogue (the static control: one turn with the whole vignette)")

    def target_turns(self) -> list[Turn]:
        return [turn for turn in self.turns if turn.role == "target"]

    def simulator_turns(self) -> list[Turn]:
        return [turn for turn in self.turns if turn.role == "simulator"]
