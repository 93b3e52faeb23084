from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from arena.cli import main


def test_match_writes_transcript_and_prints_scores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["match", "--scenario", "cxr-multiple-nodules", "--target", "reference/oracle",
                 "--seed", "2", "--out", str(tmp_path), "--run", "r1", "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    path = Path(summary["transcript"])
    assert path.exists() and path.parent == tmp_path / "r1"
    data = json.loads(path.read_text())
    assert data["scenario_id"] == "cxr-multiple-nodules" and data["seed"] == 2 and data["run"] == "r1"
    assert data["mode"] == "clinician" and data["termination"] == "completed"
    assert set(summary["scores"]) == {"coherence", "uncertainty", "narrative", "safety", "accuracy"}
    assert all(1 <= v <= 5 for v in summary["scores"].values())


def test_match_readable_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["match", "--scenario", "derm-changing-mole", "--target", "reference/hedger",
                 "--mode", "clinician", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for word in ("accuracy", "uncertainty", "safety", "request_comparison", "transcript:"):
        assert word in out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--scenario", "nope", "--target", "reference/oracle"], "unknown scenario 'nope'; valid: "),
        (["--scenario", "cxr-multiple-nodules", "--target", "gpt/x"], "unknown model spec 'gpt/x'"),
        (["--scenario", "cxr-multiple-nodules", "--target", "reference/skill-1.5"], "skill p must be in 0..1"),
        (["--scenario", "cxr-multiple-nodules", "--target", "reference/genius"], "valid: reference/oracle"),
    ],
)
def test_bad_input_is_one_line_exit_2(args: list[str], needle: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["match", *args, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_demo_json_ranks_oracle_first_on_accuracy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--json", "--out", str(tmp_path)]) == 0
    data = json.loads(capsys.readouterr().out)
    rows = {row["model"]: row for row in data["models"]}
    oracle = rows["reference/oracle"]["scores"]["accuracy"]
    for other in ("reference/blind", "reference/hedger", "reference/overconfident"):
        assert oracle > rows[other]["scores"]["accuracy"], other
    run_dir = tmp_path / data["run"]
    assert data["run"].startswith("demo-")
    assert len(list(run_dir.glob("*__s*.json"))) == len(data["transcripts"]) >= 18
    board = data["leaderboard"]
    assert board["models"][0]["model"] == "reference/oracle" and board["matches"]["rated"] == 4 * 36
    rating = {r["model"]: r["rating"] for r in board["models"]}
    for gaming in ("reference/echo", "reference/boilerplate", "reference/keyword-stuffer"):
        assert rating[gaming] < rating["reference/blind"], gaming  # echoing, boilerplate, stuffing win no rating
    assert json.loads((run_dir / "leaderboard.json").read_text()) == board


def test_console_script_entry_point() -> None:
    exe = Path(sys.executable).with_name("arena")
    proc = subprocess.run([str(exe), "match", "--scenario", "x", "--target", "reference/oracle"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("arena: error: unknown scenario 'x'"), proc.stderr
    help_proc = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=120)
    assert help_proc.returncode == 0 and "demo" in help_proc.stdout
