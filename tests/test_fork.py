"""``arena fork``: the turns before K are the parent's, exactly; from K on the other target plays;
the branch is judged, saved beside its parent and linked to it; its recorded calls stay consistent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arena.cli import main
from arena.clients.replay import full_messages
from arena.records import load_transcript

EXAMPLES = Path(__file__).resolve().parents[1] / "transcripts" / "examples"
PARENT = EXAMPLES / "derm-changing-mole__reference_overconfident__patient__s0.json"
Capsys = pytest.CaptureFixture[str]


def _fork(capsys: Capsys, *args: str) -> dict[str, object]:
    assert main(["fork", str(PARENT), *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("at_turn", [1, 3, 5])
def test_a_fork_keeps_the_prefix_and_changes_only_the_suffix(tmp_path: Path, capsys: Capsys, at_turn: int) -> None:
    parent = load_transcript(PARENT)
    out = _fork(capsys, "--at-turn", str(at_turn), "--target", "reference/oracle", "--out", str(tmp_path))
    branch = load_transcript(Path(str(out["transcript"])))
    assert branch.turns[:at_turn] == parent.turns[:at_turn]  # text, moves, readings and timings: the parent's
    assert branch.parent is not None and branch.parent.encounter_id == parent.encounter_id
    assert branch.parent.at_turn == at_turn and branch.parent.target == "reference/overconfident"
    assert branch.target == "reference/oracle" and branch.encounter_id != parent.encounter_id
    new_answers = [t.text for t in branch.target_turns() if t.index >= at_turn]
    old_answers = [t.text for t in parent.target_turns() if t.index >= at_turn]
    assert new_answers and new_answers != old_answers and "99% certain" not in " ".join(new_answers)
    assert branch.verdict is not None and branch.closing_differential is not None
    ids = [c.call_id for c in branch.calls if c.role == "target"]
    assert ids == [f"target-{i + 1}" for i in range(len(ids))]  # numbering continues across the fork
    for call, messages in zip(branch.calls, full_messages(branch.calls), strict=True):
        assert messages and messages[0].role == "system" and call.request.shared_prefix < len(messages)
    assert main(["replay", str(out["transcript"])]) == 0 and "reference/oracle" in capsys.readouterr().out


def test_a_fork_with_another_seed_and_its_default_place_beside_the_parent(tmp_path: Path, capsys: Capsys) -> None:
    copy = tmp_path / PARENT.name
    copy.write_bytes(PARENT.read_bytes())
    assert main(["fork", str(copy), "--at-turn", "2", "--target", "reference/hedger", "--seed", "7", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    where = Path(str(out["transcript"]))
    assert where.parent == tmp_path and load_transcript(where).seed == 7
    assert main(["fork", str(copy), "--at-turn", "2", "--target", "reference/hedger", "--seed", "7"]) == 2
    assert "already exists" in capsys.readouterr().err  # the same fork is never overwritten


@pytest.mark.parametrize(("args", "needle"), [
    (["--at-turn", "40", "--target", "reference/oracle"], "valid: 1.."),
    (["--at-turn", "2", "--target", "nope/x"], "nope"),
    (["--at-turn", "0", "--target", "reference/oracle"], "must be an integer from 1"),
])
def test_bad_fork_options_are_one_line(tmp_path: Path, capsys: Capsys, args: list[str], needle: str) -> None:
    assert main(["fork", str(PARENT), *args, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not list(tmp_path.glob("*.json"))
