"""A model-backed voice for the simulator: any provider puts the policy's move into words.

The model never sees the hidden truth: it is given the persona, the task of this move, the facts
it may now share, and the conversation so far. The rules are still checked here, in code:

* it never names the hidden diagnosis (negation-aware phrase matching, as the judge reads);
* it never volunteers a record fact that was not asked for (two or more distinctive words of an
  undisclosed fact that no earlier turn used);
* it does not end the conversation before the target has given an assessment (a diagnosis);
  ending after one turns the move into the close, so the target still gives its summary.

A message that breaks a rule is regenerated once with the reason; if it breaks one again, the
template voice's message is sent instead and a :class:`SimulatorFault` is recorded. A call that
fails after the gateway's retries raises :class:`SimulatorError` (an infrastructure error).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agents.data import load_json
from agents.simulator.voice import template_text
from arena.fencing import defuse
from arena.matching import mentions
from arena.protocols import ModelClient, SimulatorError, Utterance, VoiceRequest
from arena.schemas.messages import Message, ModelRequest, ResponseSchema
from arena.schemas.scenario import Mode, Scenario
from arena.schemas.transcript import Move, MoveKind, SimulatorFault
from arena.structured import complete_structured

PROMPT_FILE = Path(__file__).parent / "prompts" / "model_simulator.json"
MAX_CONTEXT_CHARS = 3000  # of each earlier turn shown to the simulator model
SIMULATOR_MAX_TOKENS = 300
_WORD = re.compile(r"[a-z][a-z'-]{4,}")
COMMON_WORDS = frozenset(
    "about after again always because before being could doctor every first found going there their these "
    "thing think those three through today under until where which while would years since month months "
    "weeks started never noticed little really right still other makes having".split())


def prompt() -> dict[str, Any]:
    return load_json(PROMPT_FILE)


class SimulatorReply(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    message: str = Field(min_length=1, max_length=1500)
    end_conversation: bool

    @field_validator("message")
    @classmethod
    def _visible(cls, value: str) -> str:
        """Stripped, and with something to read (not only spaces or invisible characters)."""
        if not defuse(value).strip():
            raise ValueError("the message is empty")
        return value.strip()


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in COMMON_WORDS}


def fact_words(scenario: Scenario, fact_id: str, mode: Mode) -> set[str]:
    fact = next(f for f in scenario.patient.facts if f.id == fact_id)
    public = _words(f"{scenario.patient.presenting_complaint} {scenario.persona.opening_concern} "
                    f"{scenario.clinician_question}")
    said = fact.patient_says if mode == Mode.PATIENT else fact.clinician_says
    return _words(said) - public


def rule_problems(request: VoiceRequest, reply: SimulatorReply) -> list[tuple[str, str]]:
    """The rules the reply breaks, as (rule, detail)."""
    scenario, text = request.scenario, reply.message
    problems: list[tuple[str, str]] = []
    if mentions(text, scenario.ground_truth.diagnosis.phrases()):
        problems.append(("named_diagnosis", "the message names the diagnosis, which you do not know"))
    allowed = set(request.disclosed) | set(request.disclosed_before)
    earlier = _words(" ".join(t.text for t in request.turns))
    words = _words(text)
    for fact in scenario.patient.facts:
        if fact.id in allowed:
            continue
        leaked = sorted((fact_words(scenario, fact.id, request.mode) & words) - earlier)
        if len(leaked) >= 2:
            problems.append(("volunteered_fact", f"the message shares {fact.topic} details nobody asked about "
                                                 f"({', '.join(leaked[:4])})"))
    if reply.end_conversation and request.move.kind != MoveKind.CLOSE and \
            not any(a.diagnosis_stated for a in request.assessments):
        problems.append(("ended_early", "the conversation cannot end before the assistant has given its assessment"))
    return problems


def _task(request: VoiceRequest) -> str:
    scenario, move = request.scenario, request.move
    fields = {
        "concern": scenario.persona.opening_concern if request.mode == Mode.PATIENT else scenario.clinician_question,
        "acquired": (scenario.prior_images[0].acquired if scenario.prior_images else "") or "before",
        "claim": (move.target_id or "").split(":", 1)[-1].strip() or "its last statement",
        "probe": "",
    }
    if move.kind == MoveKind.PROBE_FINDING and move.target_id:
        finding = next(f for f in scenario.ground_truth.findings if f.id == move.target_id)
        fields["probe"] = finding.probe_patient if request.mode == Mode.PATIENT else finding.probe_clinician
    template: str = prompt()["tasks"][move.kind.value]
    return template.format(**fields)


def build_request(request: VoiceRequest) -> ModelRequest:
    data, scenario = prompt(), request.scenario
    patient = scenario.patient
    system = data["system"][request.mode.value].format(name=scenario.persona.name, age=patient.age, sex=patient.sex,
                                                       style=scenario.persona.style)
    conversation = "\n".join(
        f"[turn {t.index}] {'YOU' if t.role == 'simulator' else 'ASSISTANT'}: {defuse(t.text[:MAX_CONTEXT_CHARS])}"
        for t in request.turns
    ) or "(nothing yet: this is your first message)"
    facts = {f.id: f for f in patient.facts}
    shared = "; ".join(facts[fid].patient_says if request.mode == Mode.PATIENT else facts[fid].clinician_says
                       for fid in request.disclosed) or "none"
    user = data["user"].format(conversation=conversation, task=_task(request), facts=shared)
    return ModelRequest(
        messages=[Message.text("system", system), Message.text("user", user)],
        temperature=0.7, max_tokens=SIMULATOR_MAX_TOKENS, seed=request.seed * 1000 + request.turn,
        response_schema=ResponseSchema(name="simulator_message", schema=data["schema"],
                                       description="Your next message"),
    )


class ModelVoice:
    def __init__(self, client: ModelClient, spec: str) -> None:
        self.client = client
        self.name = spec

    async def speak(self, request: VoiceRequest) -> Utterance:
        base = build_request(request)
        scope = request.scope
        calls = []
        rejected: tuple[str, str, str] | None = None
        messages = list(base.messages)
        for attempt in range(2):  # the first message, then one regeneration
            result = await complete_structured(request.gateway, self.client,
                                               base.model_copy(update={"messages": messages}), SimulatorReply,
                                               role="simulator", scope=scope, spec=self.name,
                                               turn_index=request.turn)
            calls.extend(result.calls)
            if result.infrastructure:
                raise SimulatorError(f"simulator {self.name}: {result.problem}", calls)
            if result.value is None:
                rejected = ("invalid_output", result.problem, "")
                break
            problems = rule_problems(request, result.value)
            if not problems:
                move = request.move
                if result.value.end_conversation and move.kind != MoveKind.CLOSE:
                    move = Move(kind=MoveKind.CLOSE, reason=f"the simulator ended the conversation ({move.kind})")
                return Utterance(text=result.value.message.strip(), move=move, calls=calls)
            rule, detail = problems[0]
            rejected = (rule, "; ".join(d for _, d in problems), result.value.message)
            if attempt == 0:
                messages = [*base.messages, Message.text("assistant", result.value.model_dump_json()),
                            Message.text("user", prompt()["repair"].format(problem=rejected[1]))]
        assert rejected is not None
        fault = SimulatorFault(turn_index=request.turn, rule=rejected[0], detail=rejected[1][:600],  # type: ignore[arg-type]
                               rejected_text=rejected[2][:1500])
        return Utterance(text=template_text(request), move=request.move, calls=calls, faults=[fault])
