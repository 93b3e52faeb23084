"""``arena export inspect``: a run written as inspect_ai eval logs through its own API round-trips:
its reader returns one sample per encounter with its messages and scores."""

from __future__ import annotations

from pathlib import Path

import inspect_ai.log as inspect_log  # in the test extra: a missing install fails, never skips
import pytest

from arena.cli import main
from arena.records import load_transcript

Capsys = pytest.CaptureFixture[str]


def test_a_tournament_run_round_trips_through_inspects_reader(tmp_path: Path, capsys: Capsys) -> None:
    assert main(["tournament", "--models", "reference/oracle,reference/hedger,reference/blind", "--scenarios",
                 "derm-changing-mole,cxr-multiple-nodules", "--out", str(tmp_path), "--run", "t", "--json"]) == 0
    capsys.readouterr()
    assert main(["export", "inspect", "t", "--runs", str(tmp_path)]) == 0
    assert "3 inspect_ai eval logs" in capsys.readouterr().out
    transcripts = {t.encounter_id: t for t in map(load_transcript, (tmp_path / "t").glob("*__s*.json"))}
    seen = set()
    for path in sorted((tmp_path / "t" / "inspect").glob("*.eval")):
        log = inspect_log.read_eval_log(str(path))
        assert log.status == "success" and log.eval.task == "clinical-image-arena"
        assert {s.name for s in log.results.scores} == {"coherence", "uncertainty", "narrative", "safety", "accuracy"}
        for sample in log.samples:
            t = transcripts[str(sample.id)]
            assert sample.metadata["scenario_id"] == t.scenario_id and log.eval.model == t.target
            assert [m.role for m in sample.messages] == ["user" if x.role == "simulator" else "assistant"
                                                         for x in t.turns]
            assert [m.text.split("\n\n[images shown:")[0] for m in sample.messages] == [x.text for x in t.turns]
            assert t.verdict is not None
            value = sample.scores["arena"].value
            assert {d.value: value[d.value] for d in t.verdict.scores} == {
                d.value: s.score for d, s in t.verdict.scores.items()}
            seen.add(sample.id)
    assert seen == set(transcripts)  # one sample per encounter, none lost


def test_export_inspect_of_a_folder_without_transcripts_is_one_line(tmp_path: Path, capsys: Capsys) -> None:
    assert main(["export", "inspect", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no transcripts" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "x.json").write_text('{"turns": "\u001b[2J"}')  # not a transcript, with a terminal escape
    assert main(["export", "inspect", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "x.json" in err and "\x1b" not in err and len(err.strip().splitlines()) == 1
