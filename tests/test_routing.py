"""The simulator adapts: probes what was missed, challenges contradictions and wrong claims."""

from __future__ import annotations

from arena.clients.scripted import ScriptedClient
from arena.composition import DEMO_MODELS, create_client
from arena.matching import mentions
from arena.schemas.scenario import Mode, Scenario
from arena.schemas.transcript import MoveKind, Transcript
from scenarios.library import ScenarioLibrary
from tests.conftest import run
from tests.helpers import encounter


def _moves(t: Transcript) -> list[tuple[MoveKind, str | None]]:
    return [(turn.move.kind, turn.move.target_id) for turn in t.simulator_turns() if turn.move]


def test_target_omitting_a_finding_gets_probed_about_it(library: ScenarioLibrary, cxr: Scenario) -> None:
    answer = ("I see multiple pulmonary nodules in both lungs, well-defined and round. "
              "Most likely pulmonary metastases (60%); granulomas possible. CT of the chest next.")
    t = run(encounter(library, cxr, ScriptedClient("scripted/partial", [answer]), max_turns=5))
    assert (MoveKind.PROBE_FINDING, "multiple-nodules") not in _moves(t)
    # Now omit the bilateral distribution only.
    answer2 = ("I see multiple pulmonary nodules, well-defined and round. Most likely pulmonary "
               "metastases (60%); granulomas possible. CT of the chest next.")
    t2 = run(encounter(library, cxr, ScriptedClient("scripted/partial2", [answer2]), max_turns=5))
    assert (MoveKind.PROBE_FINDING, "bilateral") in _moves(t2)
    probe = next(turn for turn in t2.turns if turn.move and turn.move.target_id == "bilateral")
    finding = next(f for f in cxr.ground_truth.findings if f.id == "bilateral")
    assert finding.probe_clinician in probe.text
    assert (MoveKind.PROBE_FINDING, "bilateral") not in _moves(t)


def test_self_contradiction_is_challenged(library: ScenarioLibrary, cxr: Scenario) -> None:
    answers = [
        "Multiple pulmonary nodules in both lungs. Most likely pulmonary metastases (60%).",
        "Looking again, this is granulomatous disease (80%).",
        "Summary: granulomatous disease 80%, pulmonary metastases 20%. CT chest.",
    ]
    t = run(encounter(library, cxr, ScriptedClient("scripted/flip", answers), max_turns=6))
    kinds = [k for k, _ in _moves(t)]
    assert MoveKind.CHALLENGE_CONTRADICTION in kinds
    challenge = next(turn for turn in t.turns if turn.move and turn.move.kind == MoveKind.CHALLENGE_CONTRADICTION)
    assert challenge.index == 4  # right after the contradicting answer (turn 3)
    assert "metastases" in (challenge.move.target_id or "")
    assert t.turns[3].assessment and t.turns[3].assessment.contradictions


def test_acknowledged_revision_is_not_a_contradiction(library: ScenarioLibrary, cxr: Scenario) -> None:
    answers = [
        "Multiple pulmonary nodules in both lungs. Most likely granulomatous disease (60%).",
        "On reflection, I revise that: most likely pulmonary metastases (60%).",
    ]
    t = run(encounter(library, cxr, ScriptedClient("scripted/revise", answers), max_turns=5))
    assert MoveKind.CHALLENGE_CONTRADICTION not in [k for k, _ in _moves(t)]


def test_denied_true_finding_is_challenged(library: ScenarioLibrary, cxr: Scenario) -> None:
    answers = ["There are no nodules and no rounded opacities; the lungs look clear. Most likely normal."]
    t = run(encounter(library, cxr, ScriptedClient("scripted/deny", answers), max_turns=5))
    assert (MoveKind.CHALLENGE_CLAIM, "finding:multiple-nodules") in _moves(t)


def test_prior_comparison_is_requested_and_overconfidence_clarified(library: ScenarioLibrary, mole: Scenario) -> None:
    answer = "This is a dysplastic naevus with asymmetry. I'm 99% certain."
    t = run(encounter(library, mole, ScriptedClient("scripted/sure", [answer]), max_turns=7))
    kinds = [k for k, _ in _moves(t)]
    assert MoveKind.REQUEST_COMPARISON in kinds
    assert MoveKind.CHALLENGE_CLAIM in kinds  # confident and wrong
    assert kinds[-1] == MoveKind.CLOSE


def test_two_targets_same_seed_get_different_follow_ups(library: ScenarioLibrary, mole: Scenario) -> None:
    a = run(encounter(library, mole, create_client("reference/oracle", scenario=mole, seed=5), seed=5))
    b = run(encounter(library, mole, create_client("reference/overconfident", scenario=mole, seed=5), seed=5))
    assert a.turns[0].text == b.turns[0].text  # same opening
    assert _moves(a) != _moves(b)
    assert [t.text for t in a.simulator_turns()][1:] != [t.text for t in b.simulator_turns()][1:]


def test_same_target_and_seed_is_deterministic(library: ScenarioLibrary, mole: Scenario) -> None:
    texts = []
    for _ in range(2):
        target = create_client("reference/skill-0.5", scenario=mole, seed=9)
        t = run(encounter(library, mole, target, seed=9))
        texts.append([turn.text for turn in t.turns])
    assert texts[0] == texts[1]


def test_patient_never_names_the_diagnosis(library: ScenarioLibrary) -> None:
    for scenario in library.all():
        if Mode.PATIENT not in scenario.modes:
            continue
        for spec in DEMO_MODELS:
            if spec == "reference/pixel":
                continue
            target = create_client(spec, scenario=scenario, seed=1)
            t = run(encounter(library, scenario, target, seed=1, mode=Mode.PATIENT))
            for turn in t.simulator_turns():
                assert not mentions(turn.text, scenario.ground_truth.diagnosis.phrases()), turn.text


def test_facts_disclosed_only_when_asked(library: ScenarioLibrary, cxr: Scenario) -> None:
    silent = ScriptedClient("scripted/noq", ["Multiple pulmonary nodules in both lungs, round. Most likely pulmonary metastases (60%)."])
    t = run(encounter(library, cxr, silent, max_turns=4, mode=Mode.PATIENT))
    assert all(not turn.disclosed_facts for turn in t.simulator_turns())
    asks = ScriptedClient("scripted/asks", ["Multiple nodules. Do you smoke, and have you had any cancer before?"])
    t2 = run(encounter(library, cxr, asks, max_turns=4, mode=Mode.PATIENT))
    disclosed = t2.turns[2].disclosed_facts
    assert set(disclosed) == {"smoking", "history"}
    assert "kidney" in t2.turns[2].text and "smoked" in t2.turns[2].text
    # Each fact is told once, even if asked again.
    assert all(not turn.disclosed_facts for turn in t2.simulator_turns()[2:])
