from __future__ import annotations

import asyncio
from pathlib import Path

from arena.examples import EXAMPLES, EXAMPLES_DIR, drift, render_examples
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
