from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from arena.cli import main
from arena.examples import EXAMPLE_RUN, EXAMPLES, EXAMPLES_DIR, drift, render_examples, render_run, run_drift
from arena.schemas.transcript import TerminationReason, Transcript


def test_committed_examples_are_what_the_code_produces() -> None:
    """Regenerate every example (frozen clock) and compare byte for byte: drift fails here.
    Fix with ``python -m arena.examples`` after checking the change of behaviour is intended."""
    expected = asyncio.run(render_examples())
    assert len(expected) == len(EXAMPLES)
    assert drift(expected) == []
    for name in expected:
        transcript = Transcript.model_validate_json((EXAMPLES_DIR / name).read_text())
        assert transcript.termination == TerminationReason.COMPLETED
        assert transcript.verdict is not None


def test_drift_is_detected(tmp_path: Path) -> None:
    expected = asyncio.run(render_examples())
    for name, text in expected.items():
        (tmp_path / name).write_text(text)
    assert drift(expected, tmp_path) == []
    first = sorted(expected)[0]
    (tmp_path / first).write_text(expected[first].replace('"seed": 0', '"seed": 1', 1))
    (tmp_path / "stale.json").write_text("{}")
    assert drift(expected, tmp_path) == [f"{first}: differs from what the code produces",
                                         "stale.json: not an example any more"]


def test_the_committed_example_run_is_what_the_code_produces(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """The small tournament run in ``transcripts/examples/examples-run/``: its transcripts and
    leaderboard byte for byte, its store's matches by content; and the commands a new user tries
    first work on it as committed."""
    files, _, outcomes = asyncio.run(render_run())
    assert len(files) == 7 and "leaderboard.json" in files and len(outcomes) == 6
    assert run_drift(files, outcomes) == []
    folder = EXAMPLES_DIR / EXAMPLE_RUN
    assert main(["leaderboard", str(folder), "--json"]) == 0
    board = json.loads(capsys.readouterr().out)
    assert board == json.loads(files["leaderboard.json"]) and board["models"][0]["model"] == "reference/oracle"
    one = next(folder.glob("derm-changing-mole__reference_oracle__*.json"))
    assert main(["rerun", str(one)]) == 0 and main(["replay", str(one)]) == 0
    assert main(["export", "battles", str(folder), "--out", str(tmp_path / "b.json")]) == 0
    assert len(json.loads((tmp_path / "b.json").read_text())) == 6
    assert not list(folder.glob("*-wal")) and not list(folder.glob("*-shm"))  # nothing left beside the store
