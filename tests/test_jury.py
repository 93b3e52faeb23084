"""A jury of judges: median per dimension (odd and even panels), abstentions recorded, criteria by
strict majority, members run concurrently, agreement over many verdicts; built from --judge specs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from agents.judge.model_judge import ModelJudge
from agents.judge.rubric_judge import RubricJudge
from arena.cli import main
from arena.clients.replay import full_messages
from arena.clients.scripted import ScriptedClient
from arena.composition import build_cast, check_specs, run_encounter
from arena.config import EndpointConfig, ModelsConfig
from arena.errors import UsageError
from arena.judging.jury import PARTIAL_PANEL, Jury, majority_criteria, panel_agreement
from arena.protocols import JudgeFailed, NotGradeable
from arena.schemas.calls import ModelCall
from arena.schemas.scenario import Dimension, Scenario
from arena.schemas.transcript import TerminationReason, Transcript
from arena.schemas.verdict import CriterionResult, DimensionScore, JudgeVote, Verdict
from arena.stats.agreement import krippendorff_alpha
from scenarios.library import ScenarioLibrary
from tests.conftest import run
from tests.helpers import no_wait_gateway
from tests.test_judge_graph import criteria_reply, scripted_judge

C, S = Dimension.COHERENCE, Dimension.SAFETY


class FixedJudge:
    """A scripted judge: the same verdict every time, or a JudgeFailed."""

    def __init__(self, name: str, score: int | dict[Dimension, int] = 3, met: tuple[str, ...] = (),
                 fail: str | None = None, gate: asyncio.Event | None = None, opens: asyncio.Event | None = None,
                 flags: tuple[str, ...] = ()) -> None:
        self.name = name
        self.scores = score if isinstance(score, dict) else dict.fromkeys(Dimension, score)
        self.met, self.fail, self.gate, self.opens, self.flags = met, fail, gate, opens, flags

    async def judge(self, transcript: Transcript, scenario: Scenario, *,
                    calls: list[ModelCall] | None = None) -> Verdict:
        if self.opens is not None:
            self.opens.set()
        if self.gate is not None:
            await asyncio.wait_for(self.gate.wait(), 5)
        if self.fail:
            raise JudgeFailed(self.fail)
        return Verdict(judge=self.name, flags=list(self.flags),
                       scores={d: DimensionScore(score=s, rationale="r", evidence_turns=[1]) for d, s in self.scores.items()},
                       criteria=[CriterionResult(id=c.id, dimension=c.dimension, points=c.points, met=c.id in self.met,
                                                 evidence_turns=[1] if c.id in self.met else [])
                                 for c in scenario.rubric])


@pytest.fixture(scope="module")
def transcript(library: ScenarioLibrary, mole: Scenario) -> Transcript:
    target = ScriptedClient("s", ["An irregular mole with several colours; melanoma is likely, see a dermatologist."])
    return run(run_encounter(mole, target, library.image_bytes(mole), max_turns=2, gateway=no_wait_gateway()))


def _jury(*judges: FixedJudge, transcript: Transcript, scenario: Scenario) -> Verdict:
    return run(Jury(list(judges)).judge(transcript, scenario))


def test_odd_panel_takes_the_median_and_names_every_member(transcript: Transcript, mole: Scenario) -> None:
    verdict = _jury(FixedJudge("a", 2), FixedJudge("b", 5), FixedJudge("c", {**dict.fromkeys(Dimension, 4), S: 1}),
                    transcript=transcript, scenario=mole)
    assert verdict.judge == "jury(a,b,c)" and verdict.panel_size == 3
    assert verdict.score(C) == 4 and verdict.scores[C].fraction == pytest.approx(0.75)
    assert verdict.score(S) == 2 and verdict.scores[S].fraction == pytest.approx(0.25)
    assert "Panel of 3 of 3" in verdict.scores[S].rationale and "a 2, b 5, c 1" in verdict.scores[S].rationale
    assert [v.judge for v in verdict.panel] == ["a", "b", "c"] and verdict.panel[2].scores[S] == 1


@pytest.mark.parametrize(("scores", "score", "fraction"), [
    ((3, 4), 4, 0.625),        # median 3.5: rounded half up, exact in the fraction
    ((1, 2), 2, 0.125),
    ((2, 3, 4, 5), 4, 0.625),
    ((2, 2, 5, 5), 4, 0.625),
    ((1, 1, 1, 2), 1, 0.0),
])
def test_even_panel_median_rounds_half_up(transcript: Transcript, mole: Scenario, scores: tuple[int, ...],
                                          score: int, fraction: float) -> None:
    judges = [FixedJudge(f"j{i}", s) for i, s in enumerate(scores)]
    verdict = _jury(*judges, transcript=transcript, scenario=mole)
    assert verdict.score(C) == score and verdict.scores[C].fraction == pytest.approx(fraction)


def test_a_failing_member_abstains_and_the_panel_size_counts_voters(transcript: Transcript, mole: Scenario) -> None:
    verdict = _jury(FixedJudge("a", 2, flags=("coverage_uncertain",)),
                    FixedJudge("b", fail="no valid verdict after 3 attempts"), FixedJudge("c", 5),
                    transcript=transcript, scenario=mole)
    assert verdict.panel_size == 2 and len(verdict.panel) == 3
    abstained = verdict.panel[1]
    assert abstained.judge == "b" and abstained.error and "no valid verdict" in abstained.error
    assert abstained.scores == {} and verdict.panel[0].error is None
    assert verdict.score(C) == 4 and verdict.scores[C].fraction == pytest.approx(0.625)  # median of 2 and 5
    assert verdict.flags == ["coverage_uncertain", PARTIAL_PANEL] and "b abstained" in verdict.scores[C].rationale


def test_every_member_abstaining_is_a_judge_failure(transcript: Transcript, mole: Scenario) -> None:
    with pytest.raises(JudgeFailed, match="every judge of jury"):
        _jury(FixedJudge("a", fail="x"), FixedJudge("b", fail="y"), transcript=transcript, scenario=mole)


def test_not_gradeable_propagates(transcript: Transcript, mole: Scenario) -> None:
    broken = transcript.model_copy(update={"termination": TerminationReason.TARGET_ERROR})
    with pytest.raises(NotGradeable):
        _jury(FixedJudge("a"), FixedJudge("b"), transcript=broken, scenario=mole)

    class Refuses(FixedJudge):
        async def judge(self, transcript: Transcript, scenario: Scenario, *,
                        calls: list[ModelCall] | None = None) -> Verdict:
            raise NotGradeable("not this one")

    with pytest.raises(NotGradeable, match="not this one"):
        _jury(FixedJudge("a"), Refuses("b"), transcript=transcript, scenario=mole)


def test_criteria_are_met_by_strict_majority(transcript: Transcript, mole: Scenario) -> None:
    verdict = _jury(FixedJudge("a", met=("border", "colours")), FixedJudge("b", met=("border",)),
                    FixedJudge("c", met=("names-melanoma",)), transcript=transcript, scenario=mole)
    assert {c.id for c in verdict.criteria if c.met} == {"border"}  # 2 of 3; the others 1 of 3
    assert [c.id for c in verdict.criteria] == [c.id for c in mole.rubric]
    assert verdict.panel[0].criteria["colours"] is True and verdict.panel[1].criteria["colours"] is False
    positive = sum(c.points for c in mole.rubric if c.points > 0)
    assert verdict.rubric_score == pytest.approx(2 / positive)
    # an even split is not a majority
    split = [run(FixedJudge("x", met=("border",)).judge(transcript, mole)), run(FixedJudge("y").judge(transcript, mole))]
    assert not any(c.met for c in majority_criteria(split, mole))
    assert next(c for c in majority_criteria(split[:1], mole) if c.id == "border").met  # 1 of 1 is a majority


def test_members_run_concurrently(transcript: Transcript, mole: Scenario) -> None:
    opened = asyncio.Event()
    # "a" waits until "b" has started: a sequential jury would time out on "a" before "b" ever ran
    verdict = run(Jury([FixedJudge("a", 2, gate=opened), FixedJudge("b", 4, opens=opened)]).judge(transcript, mole))
    assert verdict.panel_size == 2 and verdict.score(C) == 3


def test_model_members_calls_are_numbered_and_replayable(transcript: Transcript, mole: Scenario) -> None:
    gateway = no_wait_gateway()
    one = scripted_judge("m/one", mole, criteria=[criteria_reply(mole, drop=["border"]), criteria_reply(mole)])
    two = scripted_judge("m/two", mole)
    calls: list[ModelCall] = []
    jury = Jury([ModelJudge(one, "m/one", gateway), ModelJudge(two, "m/two", gateway), RubricJudge()])
    verdict = run(jury.judge(transcript, mole, calls=calls))
    assert verdict.panel_size == 3 and verdict.judge == f"jury(m/one,m/two,{RubricJudge.name})"
    assert [c.call_id for c in calls] == [f"judge-{i}" for i in range(1, 6)]
    assert [c.model for c in calls] == ["m/one"] * 3 + ["m/two"] * 2
    # each recorded request rebuilds to exactly what that member's client received
    sent = [*one.requests, *two.requests]
    rebuilt = full_messages(calls)
    assert [len(m) for m in rebuilt] == [len(r.messages) for r in sent]
    assert all(m[-1].parts[0].text == r.messages[-1].text_content  # type: ignore[union-attr]
               for m, r in zip(rebuilt, sent, strict=True))


def test_jury_refuses_repeated_or_no_judges() -> None:
    with pytest.raises(ValueError, match="repeated: a"):
        Jury([FixedJudge("a"), FixedJudge("a")])
    with pytest.raises(ValueError, match="at least one"):
        Jury([])


def _panel_verdict(votes: dict[str, int | None]) -> Verdict:
    panel = [JudgeVote(judge=j, error="failed") if s is None else JudgeVote(judge=j, scores=dict.fromkeys(Dimension, s))
             for j, s in votes.items()]
    scores = {d: DimensionScore(score=3, rationale="r") for d in Dimension}
    return Verdict(judge="jury(a,b)", scores=scores, panel=panel, panel_size=sum(s is not None for s in votes.values()))


def test_panel_agreement_is_krippendorff_alpha_over_the_panels() -> None:
    agree = [_panel_verdict({"a": s, "b": s}) for s in (1, 2, 4, 5)]
    assert panel_agreement(agree)[C] == pytest.approx(1.0)
    mixed = [_panel_verdict({"a": 1, "b": 2}), _panel_verdict({"a": 4, "b": None}), _panel_verdict({"a": 5, "b": 5}),
             _panel_verdict({"a": 2, "b": 4}), _panel_verdict({"b": 3, "c": 3})]
    expected = krippendorff_alpha(np.array([[1, 4, 5, 2, np.nan], [2, np.nan, 5, 4, 3], [np.nan] * 4 + [3]]),
                                  level="ordinal")
    assert expected is not None and expected < 1.0
    assert panel_agreement(mixed)[C] == pytest.approx(expected)
    no_panel = Verdict(judge="x", scores={d: DimensionScore(score=3, rationale="r") for d in Dimension})
    assert panel_agreement([no_panel]) == dict.fromkeys(Dimension)  # nothing to agree on


def _local() -> ModelsConfig:
    return ModelsConfig(endpoints={"local": EndpointConfig(provider="openai-compatible", base_url="http://127.0.0.1:9/v1")})


def test_judge_specs_build_one_judge_or_a_jury() -> None:
    assert isinstance(build_cast().judge, RubricJudge)
    assert isinstance(build_cast(judge=["rubric"]).judge, RubricJudge)
    cast = build_cast(judge=["rubric", "local/judge-a", "local/judge-b"], config=_local(), gateway=no_wait_gateway())
    assert isinstance(cast.judge, Jury) and cast.judge.name == f"jury({RubricJudge.name},local/judge-a,local/judge-b)"
    assert [type(j).__name__ for j in cast.judge.judges] == ["RubricJudge", "ModelJudge", "ModelJudge"]
    with pytest.raises(UsageError, match="more than once"):
        check_specs(["reference/oracle"], "rule-based", ["local/j", "local/j"], _local())
    with pytest.raises(UsageError, match="reads the hidden case"):
        check_specs(["reference/oracle"], "rule-based", ["rubric", "reference/oracle"], _local())


def test_match_cli_refuses_a_repeated_judge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["match", "--scenario", "derm-changing-mole", "--target", "reference/oracle", "--judge", "rubric",
                 "--judge", "rubric", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "more than once" in err and len(err.strip().splitlines()) == 1
