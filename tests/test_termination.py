from __future__ import annotations

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from agents.judge.rubric_judge import NotGradeable, RubricJudge
from arena.clients.scripted import ScriptedClient
from arena.composition import create_client, run_encounter
from arena.encounter.graph import checkpoint_serializer
from arena.errors import ModelError
from arena.schemas.scenario import Scenario
from arena.schemas.transcript import MoveKind, TerminationReason, Turn
from scenarios.library import ScenarioLibrary
from tests.conftest import run
from tests.helpers import encounter

GOOD = "Multiple pulmonary nodules in both lungs, round. Most likely pulmonary metastases (60%). CT next."


def test_completed_after_close(library: ScenarioLibrary, cxr: Scenario) -> None:
    t = run(encounter(library, cxr, create_client("reference/oracle", scenario=cxr, seed=0)))
    assert t.termination == TerminationReason.COMPLETED
    assert t.turns[-1].role == "target"
    assert t.turns[-2].move is not None and t.turns[-2].move.kind == MoveKind.CLOSE
    assert len(t.simulator_turns()) <= t.max_turns


def test_turn_budget(library: ScenarioLibrary, cxr: Scenario) -> None:
    t = run(encounter(library, cxr, ScriptedClient("s", [GOOD]), max_turns=1))
    assert t.termination == TerminationReason.TURN_BUDGET
    assert len(t.simulator_turns()) == 1 and len(t.target_turns()) == 1


def test_budget_is_respected_for_long_conversations(library: ScenarioLibrary, cxr: Scenario) -> None:
    t = run(encounter(library, cxr, ScriptedClient("s", ["I am not sure."]), max_turns=12))
    assert len(t.simulator_turns()) <= 12
    assert t.termination == TerminationReason.COMPLETED


def test_retryable_error_then_success_is_recorded(library: ScenarioLibrary, cxr: Scenario) -> None:
    client = ScriptedClient("s", [ModelError("HTTP 503"), GOOD])
    t = run(encounter(library, cxr, client, max_turns=2))
    assert t.termination == TerminationReason.COMPLETED
    assert len(t.errors) == 1 and t.errors[0].message == "HTTP 503"


def test_persistent_error_is_infrastructure_not_a_loss(library: ScenarioLibrary, cxr: Scenario) -> None:
    client = ScriptedClient("s", [ModelError("connection refused")])
    t = run(encounter(library, cxr, client, retries=2))
    assert t.termination == TerminationReason.TARGET_ERROR
    assert t.termination.is_infrastructure
    assert [e.attempt for e in t.errors] == [1, 2, 3]
    with pytest.raises(NotGradeable):
        RubricJudge().grade(t, cxr)


def test_non_retryable_error_stops_at_once(library: ScenarioLibrary, cxr: Scenario) -> None:
    client = ScriptedClient("s", [ModelError("invalid api key", retryable=False)])
    t = run(encounter(library, cxr, client, retries=5))
    assert t.termination == TerminationReason.TARGET_ERROR and len(t.errors) == 1


def test_silent_target(library: ScenarioLibrary, cxr: Scenario) -> None:
    t = run(encounter(library, cxr, ScriptedClient("s", ["   "]), max_turns=7))
    assert t.termination == TerminationReason.TARGET_SILENT
    assert len(t.target_turns()) == 2


def test_checkpointer_keeps_typed_state(library: ScenarioLibrary, cxr: Scenario) -> None:
    saver = InMemorySaver(serde=checkpoint_serializer())
    target = create_client("reference/oracle", scenario=cxr, seed=0)
    transcript = run(run_encounter(cxr, target, library.image_bytes(cxr), checkpointer=saver,
                                   thread_id="t-1"))
    from arena.encounter.graph import build_encounter_graph

    graph = build_encounter_graph(saver)
    snapshot = graph.get_state({"configurable": {"thread_id": "t-1"}})
    turns = snapshot.values["turns"]
    assert all(isinstance(turn, Turn) for turn in turns)
    assert [t.text for t in turns] == [t.text for t in transcript.turns]
    assert snapshot.values["termination"] == TerminationReason.COMPLETED
    history = list(graph.get_state_history({"configurable": {"thread_id": "t-1"}}))
    assert len(history) > len(turns)
