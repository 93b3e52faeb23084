from __future__ import annotations

from pathlib import Path

from arena.schemas.transcript import TerminationReason, Transcript

EXAMPLES = Path(__file__).resolve().parents[1] / "transcripts" / "examples"


def test_committed_examples_match_the_schema() -> None:
    files = sorted(EXAMPLES.glob("*.json"))
    assert len(files) >= 3
    for path in files:
        transcript = Transcript.model_validate_json(path.read_text())
        assert transcript.termination == TerminationReason.COMPLETED
        assert transcript.verdict is not None
