"""``arena agreement`` on a tiny fixture: tests/data/annotations_example.jsonl against four jury
transcripts built here. Expected figures are computed by hand in the comments."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from arena.cli import main
from arena.schemas.scenario import Dimension, Mode
from arena.schemas.transcript import TerminationReason, Transcript
from arena.schemas.verdict import DimensionScore, JudgeVote, Verdict
from arena.stats.agreement import krippendorff_alpha

FIXTURE = Path(__file__).parent / "data" / "annotations_example.jsonl"
JURY = "jury/test"
# Coherence per transcript enc-1..enc-4: the jury aggregate, panel member j1, panel member j2
# (j2 abstains on enc-4). Every other dimension is scored 3 by everybody.
COHERENCE: dict[str, list[int | None]] = {"jury": [5, 4, 2, 1], "j1": [5, 4, 2, 1], "j2": [4, 4, 3, None]}


def _transcript(i: int) -> Transcript:
    def scores(value: int, coherence: int | None) -> dict[Dimension, DimensionScore]:
        assert coherence is not None
        return {d: DimensionScore(score=coherence if d is Dimension.COHERENCE else value, rationale="r")
                for d in Dimension}

    j2 = COHERENCE["j2"][i]
    panel = [JudgeVote(judge="j1", scores={d: s.score for d, s in scores(3, COHERENCE["j1"][i]).items()})]
    if j2 is None:
        panel.append(JudgeVote(judge="j2", error="no valid verdict"))
    else:
        panel.append(JudgeVote(judge="j2", scores={d: s.score for d, s in scores(3, j2).items()}))
    verdict = Verdict(judge=JURY, scores=scores(3, COHERENCE["jury"][i]), panel=panel, panel_size=2)
    now = datetime(2025, 1, 1, tzinfo=UTC)
    return Transcript(encounter_id=f"enc-{i + 1}", scenario_id="derm-changing-mole", mode=Mode.PATIENT, seed=0,
                      target="reference/oracle", simulator="rule-based", judge=JURY, max_turns=5, started_at=now,
                      finished_at=now, turns=[], termination=TerminationReason.COMPLETED, verdict=verdict)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "run"
    folder.mkdir()
    for i in range(3):
        (folder / f"enc-{i + 1}.json").write_text(_transcript(i).model_dump_json())
    (folder / "leaderboard.json").write_text('{"method": "bradley-terry", "models": []}')  # not a transcript
    (tmp_path / "enc-4.json").write_text(_transcript(3).model_dump_json())
    return folder


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["agreement", *args, "--json"]) == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


def _row(rows: list[dict[str, Any]], a: str, calibrated: bool = False) -> dict[str, Any]:
    (row,) = [r for r in rows if r["a"] == a and r["calibrated"] is calibrated]
    agreement: dict[str, Any] = row["agreement"]
    return agreement


def test_json_report_per_dimension(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, "--annotations", str(FIXTURE), str(run_dir), str(run_dir.parent / "enc-4.json"))
    assert data["annotations"] == 13 and data["raters"] == ["alice", "bob"]
    assert data["transcripts"] == 4 and data["skipped_files"] == 1  # leaderboard.json
    assert data["annotated_transcripts"] == 5 and data["unmatched_annotated_transcripts"] == 1  # enc-9
    assert set(data["dimensions"]) == {d.value for d in Dimension}
    coherence = data["dimensions"]["coherence"]
    # Human mean: 5, 3.5, 2, 1.5 -> rounded 5 4 2 2. Jury 5 4 2 1: exact 3/4, within one 4/4.
    # kappa: sum w*O = (1-2)^2 = 1; marginals jury 1,2,4,5 once, humans 2 twice, 4, 5 once:
    # sum r_i c_j (i-j)^2 = 27 + 13 + 9 + 19 = 68, /4 = 17 -> kappa = 1 - 1/17 = 16/17.
    # Spearman: the same order with no ties -> 1.
    jury = _row(coherence["judges"], JURY)
    assert jury["n"] == 4 and jury["exact"] == 0.75 and jury["within_one"] == 1.0
    assert jury["kappa"] == pytest.approx(16 / 17) and jury["spearman"] == pytest.approx(1.0)
    # j2 abstained on enc-4: n = 3; 4 4 3 vs rounded means 5 4 2: exact 1/3, within one 3/3.
    j2 = _row(coherence["judges"], "j2")
    assert j2["n"] == 3 and j2["exact"] == pytest.approx(1 / 3) and j2["within_one"] == 1.0
    # alice 5 4 2 1 vs bob 5 3 2 2: kappa 0.875, Spearman sqrt(0.9) (see tests/test_stats.py).
    (pair,) = coherence["humans"]
    assert (pair["a"], pair["b"]) == ("alice", "bob")
    assert pair["agreement"]["kappa"] == pytest.approx(0.875) and pair["agreement"]["exact"] == 0.5
    # Alpha among judges: j1 and j2 only (the jury aggregate repeats its panel).
    expected = krippendorff_alpha(np.array([[5, 4, 2, 1], [4, 4, 3, np.nan]]))
    assert expected is not None and coherence["alpha_judges"] == pytest.approx(expected)
    assert coherence["alpha_humans"] == pytest.approx(krippendorff_alpha(np.array([[5, 4, 2, 1], [5, 3, 2, 2.]])))
    # Accuracy: judges constant 3 vs human means 4, 2.5 (rounded 4, 3): kappa = 1 - 1/1 = 0
    # (sum w*O = 1, E_33 = E_34 = 1 so sum w*E = 1), Spearman undefined -> null, never NaN.
    accuracy = _row(data["dimensions"]["accuracy"]["judges"], JURY)
    assert accuracy["n"] == 2 and accuracy["kappa"] == pytest.approx(0.0) and accuracy["spearman"] is None
    # Safety: no human scored a judged transcript, judges never vary.
    safety = data["dimensions"]["safety"]
    assert _row(safety["judges"], JURY)["n"] == 0 and safety["alpha_judges"] is None and safety["humans"] == []


def test_table_output_has_a_row_per_rater(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["agreement", "--annotations", str(FIXTURE), str(run_dir)]) == 0
    out = capsys.readouterr().out
    for word in ("coherence: alpha humans", "accuracy: alpha", "jury/test", "j1", "alice", "bob", "within-one"):
        assert word in out
    assert "1 files skipped" in out and "3 transcripts read" in out


def test_calibrate_then_apply(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    maps_path = tmp_path / "maps" / "iso.json"
    sources = [str(run_dir), str(tmp_path / "enc-4.json")]
    data = _json(capsys, "--annotations", str(FIXTURE), *sources, "--calibrate-out", str(maps_path))
    assert data["calibration_written"] == str(maps_path)
    saved = json.loads(maps_path.read_text())
    assert saved["kind"] == "arena-isotonic-calibration"
    # Jury coherence pairs (1,1.5) (2,2) (4,3.5) (5,5) are already increasing: the map passes through them.
    jury_map = saved["maps"][JURY]["coherence"]
    assert jury_map["x_thresholds"] == [1.0, 2.0, 4.0, 5.0] and jury_map["y_thresholds"] == [1.5, 2.0, 3.5, 5.0]
    # j2: (3,2) (4,5) (4,3.5): pooled at x=4 -> 4.25.
    assert saved["maps"]["j2"]["coherence"]["y_thresholds"] == [2.0, 4.25]
    # Safety has no human scores on judged transcripts: no map.
    assert "safety" not in saved["maps"][JURY]

    applied = _json(capsys, "--annotations", str(FIXTURE), *sources, "--apply", str(maps_path))
    rows = applied["dimensions"]["coherence"]["judges"]
    raw, calibrated = _row(rows, JURY), _row(rows, JURY, calibrated=True)
    assert raw["exact"] == 0.75
    # Calibrated jury scores equal the human means 5, 3.5, 2, 1.5: perfect agreement.
    assert calibrated["exact"] == 1.0 and calibrated["kappa"] == pytest.approx(1.0)

    assert main(["agreement", "--annotations", str(FIXTURE), *sources, "--calibrate-out", str(maps_path)]) == 2
    err = capsys.readouterr().err
    assert "exists" in err and len(err.strip().splitlines()) == 1


LINE = {"transcript_id": "enc-1", "dimension": "coherence", "score": 4, "rater": "alice"}


@pytest.mark.parametrize(("second", "needle"), [
    ({**LINE, "score": 6}, "line 2: field 'score'"),
    ({**LINE, "score": "4"}, "line 2: field 'score'"),
    ({**LINE, "score": True}, "line 2: field 'score'"),
    ({**LINE, "dimension": "bedside"}, "unknown dimension 'bedside' (valid: coherence, uncertainty, narrative, "
                                       "safety, accuracy)"),
    ({k: v for k, v in LINE.items() if k != "rater"}, "line 2: field 'rater': Field required"),
    ({**LINE, "extra": 1}, "line 2: field 'extra'"),
    ([1, 2], "line 2: not a JSON object"),
    ("{not json", "line 2: invalid JSON"),
    ({**LINE, "dimension": "coherence"}, "line 2: rater 'alice' already scored coherence of 'enc-1' on line 1"),
])
def test_bad_annotation_line_exits_2_with_one_line(second: object, needle: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.jsonl"
    text = second if isinstance(second, str) else json.dumps(second)
    path.write_text(json.dumps(LINE) + "\n" + text + "\n")
    assert main(["agreement", "--annotations", str(path)]) == 2
    err = capsys.readouterr().err
    assert needle in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_missing_annotations_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["agreement", "--annotations", str(tmp_path / "none.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "--annotations" in err and "cannot read" in err and len(err.strip().splitlines()) == 1


def test_named_file_that_is_not_a_transcript_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "leaderboard.json"
    other.write_text('{"method": "bradley-terry"}')
    assert main(["agreement", "--annotations", str(FIXTURE), str(other)]) == 1
    err = capsys.readouterr().err
    assert "not a valid transcript" in err and len(err.strip().splitlines()) == 1


def test_bad_calibration_file_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    maps = tmp_path / "maps.json"
    maps.write_text('{"kind": "arena-isotonic-calibration", "version": 1, "maps": {"j": {"coherence": '
                    '{"x_thresholds": [2, 1], "y_thresholds": [1, 2], "n_pairs": 2}}}}')
    assert main(["agreement", "--annotations", str(FIXTURE), "--apply", str(maps)]) == 1
    err = capsys.readouterr().err
    assert "not a valid calibration file" in err and "strictly increasing" in err


def test_rater_names_are_neutralised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "a.jsonl"
    rows = [{**LINE, "rater": "dr\x1b[31mred"}, {**LINE, "rater": "bob", "score": 3}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["agreement", "--annotations", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b[31m" not in out and "dr\u241b[31mred" in out


def test_humans_sharing_no_transcript_are_not_paired(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "a.jsonl"
    rows = [LINE, {**LINE, "rater": "bob", "score": 2}, {**LINE, "rater": "carol", "transcript_id": "enc-2"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    pairs = _json(capsys, "--annotations", str(path))["dimensions"]["coherence"]["humans"]
    # alice-bob share enc-1 (4 vs 2: not exact, not within one); carol shares nothing with either.
    assert [(p["a"], p["b"]) for p in pairs] == [("alice", "bob")]
    assert pairs[0]["agreement"]["n"] == 1 and pairs[0]["agreement"]["within_one"] == 0.0


def test_too_many_raters_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import arena.cli_agreement

    monkeypatch.setattr(arena.cli_agreement, "MAX_RATERS", 1)
    assert main(["agreement", "--annotations", str(FIXTURE)]) == 2
    assert "2 raters, over the limit of 1" in capsys.readouterr().err
