"""The recorded calls are enough to serve an encounter back exactly (byte-identical transcript),
and a replay that is fed a different conversation fails loudly instead of answering."""

from __future__ import annotations

from arena.clients.replay import ReplayClient
from arena.clients.scripted import ScriptedClient
from arena.composition import run_encounter
from arena.encounter.clock import FrozenClock
from arena.schemas.messages import ModelRequest
from arena.schemas.scenario import Scenario
from arena.schemas.transcript import TerminationReason
from scenarios.library import ScenarioLibrary
from tests.conftest import run


def _answer(request: ModelRequest) -> str:
    turns = len(request.messages)
    return f"Reply {turns}: irregular border and asymmetry; melanoma about 60%; see a dermatologist within two weeks."


def test_a_replay_reproduces_the_transcript_byte_for_byte(library: ScenarioLibrary, mole: Scenario) -> None:
    images = library.image_bytes(mole)
    original = run(run_encounter(mole, ScriptedClient("scripted/t", [_answer]), images, seed=3, max_turns=4,
                                 clock=FrozenClock()))
    assert len(original.calls) >= 3
    replay = ReplayClient(original.calls)
    again = run(run_encounter(mole, replay, images, seed=3, max_turns=4, clock=FrozenClock()))
    assert again.model_dump_json() == original.model_dump_json()


def test_a_replay_refuses_a_conversation_that_was_not_recorded(library: ScenarioLibrary, mole: Scenario) -> None:
    images = library.image_bytes(mole)
    original = run(run_encounter(mole, ScriptedClient("scripted/t", [_answer]), images, seed=3, max_turns=4))
    assert original.mode != mole.modes[-1]
    other_mode = run(run_encounter(mole, ReplayClient(original.calls), images, seed=3, max_turns=4,
                                   mode=mole.modes[-1]))
    assert other_mode.termination == TerminationReason.TARGET_ERROR  # another system prompt: message 0 differs
    assert "differs from the recording at message 0" in other_mode.errors[0].message
    cxr = library.get("cxr-multiple-nodules")
    wrong_case = run(run_encounter(cxr, ReplayClient(original.calls), library.image_bytes(cxr), max_turns=4))
    assert wrong_case.termination == TerminationReason.TARGET_ERROR
    assert "call 1 differs from the recording at message" in wrong_case.errors[0].message
    assert wrong_case.verdict is None and len(wrong_case.errors) == 1  # refused at once, never retried
