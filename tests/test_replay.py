"""``arena replay``: every turn in full, the moves and their reasons, images by sha256, the verdict
with its evidence turns, safe for hostile model text, and ``--step``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from arena.cli import main
from arena.clients.scripted import ScriptedClient
from arena.composition import run_encounter
from arena.records import load_transcript
from arena.runner import save_transcript
from arena.schemas.scenario import Scenario
from scenarios.library import ScenarioLibrary
from tests.conftest import run
from tests.hostile_fixtures import PAYLOAD, SUB_ENV, arena_exe, assert_inert

EXAMPLES = Path(__file__).resolve().parents[1] / "transcripts" / "examples"
Capsys = pytest.CaptureFixture[str]
LONG = ("Findings: an asymmetric lesion with an irregular border and two shades of brown, larger than the prior. "
        * 12) + "Most likely melanoma (60%); dysplastic naevus 30%; seborrhoeic keratosis 10%. END-OF-ANSWER"


def _played(tmp_path: Path, library: ScenarioLibrary, scenario: Scenario, text: str) -> Path:
    from agents.judge.rubric_judge import RubricJudge

    transcript = run(run_encounter(scenario, ScriptedClient("scripted/t", [text]), library.image_bytes(scenario),
                                   max_turns=3))
    transcript = transcript.model_copy(update={"verdict": RubricJudge().grade(transcript, scenario),
                                               "judge": "offline/rubric-v2"})
    return save_transcript(transcript, tmp_path)


def test_replay_shows_every_turn_whole_with_moves_images_and_evidence(tmp_path: Path, capsys: Capsys,
                                                                      library: ScenarioLibrary,
                                                                      mole: Scenario) -> None:
    path = _played(tmp_path, library, mole, LONG)
    transcript = load_transcript(path)
    assert main(["replay", str(path)]) == 0
    out = capsys.readouterr().out
    for turn in transcript.turns:
        assert turn.text in out  # whole, never cut
        assert f"[{turn.index}] " in out
    assert out.count("END-OF-ANSWER") == sum(1 for t in transcript.turns if t.role == "target") > 1
    for turn in transcript.simulator_turns():
        assert turn.move and turn.move.kind.value in out and turn.move.reason in out
    sent = {p.sha256 for c in transcript.calls for m in c.request.messages for p in m.parts if hasattr(p, "sha256")}
    assert sent and all(h in out for h in sent)
    assert "◆ evidence for" in out and "Verdict (offline/rubric-v2)" in out


def test_replay_of_hostile_model_text_is_inert(tmp_path: Path, capsys: Capsys, library: ScenarioLibrary,
                                               mole: Scenario) -> None:
    path = _played(tmp_path, library, mole, f"Irregular border {PAYLOAD} melanoma 60%.")
    assert main(["replay", str(path), "--full"]) == 0
    out = capsys.readouterr().out
    assert_inert(out)
    assert "evil" in out and "␛" in out  # shown, made visible, not executed


def test_step_waits_for_enter_between_turns_and_end_of_input_stops_waiting(tmp_path: Path) -> None:
    example = sorted(EXAMPLES.glob("*.json"))[0]
    turns = len(load_transcript(example).turns)
    proc = subprocess.run([arena_exe(), "replay", str(example), "--step"], input="\n", capture_output=True,
                          text=True, env=SUB_ENV, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("Enter for the next turn") == 2  # one Enter, then end of input: no more waiting
    assert all(f"[{i}] " in proc.stdout for i in range(turns))


def test_replay_of_a_missing_or_broken_file_is_one_line(tmp_path: Path, capsys: Capsys) -> None:
    assert main(["replay", str(tmp_path / "nope.json")]) == 1
    broken = tmp_path / "b.json"
    broken.write_text('{"encounter_id": 3}')
    assert main(["replay", str(broken)]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 2 and "Traceback" not in err and "not a valid transcript" in err


def test_replay_reads_a_tournament_transcript(tmp_path: Path, capsys: Capsys) -> None:
    assert main(["tournament", "--models", "reference/oracle,reference/hedger", "--scenarios", "derm-changing-mole",
                 "--out", str(tmp_path), "--run", "t", "--json"]) == 0
    capsys.readouterr()
    path = next((tmp_path / "t").glob("*__reference_hedger__*.json"))
    assert main(["replay", str(path)]) == 0
    assert "reference/hedger" in capsys.readouterr().out
