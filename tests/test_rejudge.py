"""``arena rejudge``: stored transcripts graded again into a new run folder, with no target or
simulator call; originals untouched; infrastructure errors reported, judge failures recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agents.judge.model_judge import ModelJudge
from arena import cli_rejudge
from arena.cli import main
from arena.composition import Cast, build_cast
from arena.gateway import Gateway
from arena.schemas.scenario import Dimension
from arena.schemas.transcript import Transcript
from scenarios.library import ScenarioLibrary
from tests.helpers import no_wait_gateway
from tests.test_judge_graph import criteria_reply, dimension_reply, scripted_judge


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One transcript played and judged by the offline judge (``arena match``)."""
    out = tmp_path_factory.mktemp("orig")
    assert main(["match", "--scenario", "derm-changing-mole", "--target", "reference/oracle", "--out", str(out),
                 "--run", "r1", "--json"]) == 0
    (path,) = (out / "r1").glob("*.json")
    return path


@pytest.fixture
def roles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The role of every gateway call made; building a target client fails the test."""
    made: list[str] = []
    real = Gateway.call

    async def recording(self: Gateway, client: Any, request: Any, **kwargs: Any) -> Any:
        made.append(kwargs["role"])
        return await real(self, client, request, **kwargs)

    def no_target(self: Cast, spec: str) -> Any:
        raise AssertionError(f"rejudge built the target {spec}")

    monkeypatch.setattr(Gateway, "call", recording)
    monkeypatch.setattr(Cast, "target", no_target)
    return made


def _scripted_cast(monkeypatch: pytest.MonkeyPatch, library: ScenarioLibrary, **answers: Any) -> None:
    mole = library.get("derm-changing-mole")

    def cast(**kwargs: Any) -> Cast:
        built = build_cast(gateway=no_wait_gateway())
        built.judge = ModelJudge(scripted_judge("scripted/judge", mole, **answers), "scripted/judge", built.gateway)
        return built

    monkeypatch.setattr(cli_rejudge, "build_cast", cast)


def _summary(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return out


def test_a_scripted_judge_regrades_into_a_new_run_without_target_or_simulator_calls(
        original: Path, tmp_path: Path, library: ScenarioLibrary, roles: list[str],
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    before = original.read_bytes()
    old = Transcript.model_validate_json(before)
    _scripted_cast(monkeypatch, library, criteria=[criteria_reply(library.get(old.scenario_id), met=["border"])],
                   verdicts=[dimension_reply(2)])
    assert main(["rejudge", str(original), "--out", str(tmp_path), "--run", "r2", "--json"]) == 0
    summary = _summary(capsys)
    assert roles == ["judge", "judge"]  # the criteria pass and the dimensions pass; nothing else
    (row,) = summary["transcripts"]
    assert row["status"] == "judged" and row["source"] == str(original)
    assert row["old"]["scores"] == {d.value: old.verdict.score(d) for d in Dimension}  # type: ignore[union-attr]
    assert row["new"] == {"overall": 2.0, "scores": dict.fromkeys([d.value for d in Dimension], 2)}
    new = Transcript.model_validate_json(Path(row["output"]).read_text())
    assert Path(row["output"]).parent == tmp_path / "r2"
    assert new.verdict is not None and {new.verdict.score(d) for d in Dimension} == {2}
    assert [c.id for c in new.verdict.criteria if c.met] == ["border"]
    assert new.judge == "scripted/judge" and new.run == "r2" and new.judge_error is None
    assert new.turns == old.turns and new.termination == old.termination
    assert [c for c in new.calls if c.role != "judge"] == [c for c in old.calls if c.role != "judge"]
    assert [c.role for c in new.calls if c.role == "judge"] == ["judge", "judge"]
    assert new.usage is not None and new.usage.calls == len(new.calls)
    assert original.read_bytes() == before  # the original is never touched
    manifest = json.loads((tmp_path / "r2" / cli_rejudge.MANIFEST).read_text())
    assert manifest["transcripts"][0]["new"] == row["new"]


def test_a_judge_that_keeps_failing_is_recorded_as_a_judge_error(
        original: Path, tmp_path: Path, library: ScenarioLibrary, roles: list[str],
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _scripted_cast(monkeypatch, library, criteria=["a five, surely"])
    assert main(["rejudge", str(original), "--out", str(tmp_path), "--run", "r3", "--json"]) == 0
    (row,) = _summary(capsys)["transcripts"]
    assert row["status"] == "judge_error" and row["new"] is None and "after 3 attempt(s)" in row["message"]
    assert roles == ["judge"] * 3  # bounded: the first ask and two repairs
    new = Transcript.model_validate_json(Path(row["output"]).read_text())
    assert new.verdict is None and new.judge_error is not None and new.judge_error.attempts == 3


def test_a_folder_with_an_infrastructure_error_and_other_json(original: Path, tmp_path: Path, roles: list[str],
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    data = json.loads(original.read_text())
    (folder / "good.json").write_text(json.dumps(data))
    (folder / "broken.json").write_text(json.dumps({**data, "termination": "target_error", "verdict": None}))
    (folder / "leaderboard.json").write_text(json.dumps({"method": "bradley-terry", "models": []}))
    assert main(["rejudge", str(folder), str(folder / "good.json"), "--judge", "rubric", "--out", str(tmp_path),
                 "--run", "r4", "--json"]) == 0
    rows = {Path(r["source"]).name: r for r in _summary(capsys)["transcripts"]}
    assert set(rows) == {"good.json", "broken.json"}  # leaderboard ignored, good.json judged once
    assert rows["broken.json"]["status"] == "not_gradeable" and rows["broken.json"]["output"] is None
    assert "target_error" in rows["broken.json"]["message"]
    assert rows["good.json"]["status"] == "judged" and rows["good.json"]["new"] == rows["good.json"]["old"]
    written = sorted(p.name for p in (tmp_path / "r4").iterdir() if not p.name.startswith("."))
    assert written == sorted([Path(rows["good.json"]["output"]).name, cli_rejudge.MANIFEST])
    assert roles == []  # the offline judge makes no call


def test_the_readable_table_shows_old_and_new_scores(original: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rejudge", str(original), "--out", str(tmp_path), "--run", "r5"]) == 0
    out = capsys.readouterr().out
    old = Transcript.model_validate_json(original.read_text())
    assert old.verdict is not None
    assert f"{old.verdict.overall:.2f}→{old.verdict.overall:.2f}" in out
    assert "coh" in out and "judged" in out and "originals are unchanged" in out


@pytest.mark.parametrize(("make", "code", "needle"), [
    (lambda d: d.write_text("{not json"), 1, "invalid JSON"),
    (lambda d: d.write_text(json.dumps({"turns": []})), 1, "not a valid transcript"),
])
def test_an_invalid_transcript_is_one_line_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           make: Any, code: int, needle: str) -> None:
    bad = tmp_path / "bad.json"
    make(bad)
    assert main(["rejudge", str(bad), "--out", str(tmp_path / "out"), "--run", "r6"]) == code
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "r6").exists()  # refused before the run folder was claimed


def test_unknown_scenario_and_existing_run_are_refused(original: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(original.read_text())
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**data, "scenario_id": "no-such-case"}))
    assert main(["rejudge", str(other), "--out", str(tmp_path)]) == 2
    assert "unknown scenario 'no-such-case'" in capsys.readouterr().err
    assert main(["rejudge", str(original), "--out", str(original.parent.parent), "--run", "r1"]) == 2
    assert "already exists" in capsys.readouterr().err
