"""``arena rerun``: a transcript re-executed from its recorded responses is byte-identical, for
reference models (system clock, not frozen) and for a recorded provider transcript (an
OpenAI-compatible server over real HTTP, switched off before the rerun); any change to the
recording is caught and the first difference shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arena.cli import main
from arena.rerun import RecordedClock, _exact_tock, first_difference
from arena.serve import ServerThread

EXAMPLES = Path(__file__).resolve().parents[1] / "transcripts" / "examples"
Capsys = pytest.CaptureFixture[str]


def _match(capsys: Capsys, tmp_path: Path, *args: str) -> Path:
    assert main(["match", *args, "--out", str(tmp_path), "--json"]) == 0
    return Path(json.loads(capsys.readouterr().out)["transcript"])


@pytest.mark.parametrize("target", ["reference/oracle", "reference/overconfident", "reference/blind",
                                    "reference/keyword-stuffer"])
def test_reference_transcripts_rerun_byte_for_byte(tmp_path: Path, capsys: Capsys, target: str) -> None:
    path = _match(capsys, tmp_path, "--scenario", "derm-changing-mole", "--target", target, "--seed", "4")
    assert main(["rerun", str(path)]) == 0
    assert "identical" in capsys.readouterr().out


def test_every_committed_example_reruns_byte_for_byte(capsys: Capsys) -> None:
    for path in sorted(EXAMPLES.glob("*.json")):
        assert main(["rerun", str(path), "--json"]) == 0, path
        assert json.loads(capsys.readouterr().out)["identical"] is True


def test_a_recorded_provider_transcript_reruns_without_its_server(tmp_path: Path, capsys: Capsys) -> None:
    with ServerThread(latency_ms=3) as server:
        base = server.base_url
        path = _match(capsys, tmp_path, "--scenario", "cxr-multiple-nodules", "--target",
                      "openai-compatible/reference/pixel", "--base-url", base, "--mode", "clinician")
    recorded = json.loads(path.read_text())
    assert recorded["target"] == "openai-compatible/reference/pixel" and recorded["target_saw_images"] is True
    assert any(a["latency_ms"] > 0 for c in recorded["calls"] for a in c["attempts"])  # real, unfrozen timings
    assert main(["rerun", str(path), "--base-url", base]) == 0  # the server is gone: nothing was called
    assert "identical" in capsys.readouterr().out


def test_a_changed_recording_is_caught_with_its_first_difference(tmp_path: Path, capsys: Capsys) -> None:
    path = _match(capsys, tmp_path, "--scenario", "derm-changing-mole", "--target", "reference/oracle")
    data = json.loads(path.read_text())
    target_turn = next(t for t in data["turns"] if t["role"] == "target")
    target_turn["text"] = target_turn["text"].replace("melanoma", "a harmless freckle")  # the turn, not the call
    path.write_text(json.dumps(data, indent=2) + "\n")
    assert main(["rerun", str(path)]) == 1
    out = capsys.readouterr().out
    assert "differs" in out and "harmless freckle" in out
    data["calls"][0]["response"]["text"] = "Nothing to see here."  # the recorded answer itself
    path.write_text(json.dumps(data, indent=2) + "\n")
    assert main(["rerun", str(path), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["identical"] is False


def test_rerun_refuses_what_it_cannot_replay_in_one_line(tmp_path: Path, capsys: Capsys) -> None:
    path = _match(capsys, tmp_path, "--scenario", "derm-changing-mole", "--target", "reference/oracle")
    data = json.loads(path.read_text())
    data["termination"] = "target_error"
    path.write_text(json.dumps(data, indent=2) + "\n")
    assert main(["rerun", str(path)]) == 2
    err = capsys.readouterr().err
    assert "no response to replay" in err and len(err.strip().splitlines()) == 1
    assert main(["rerun", str(tmp_path / "nope.json")]) == 1


def test_the_recorded_clock_gives_back_instants_and_exact_latencies() -> None:
    for latency in (0.0, 0.1234, 3.3, 1234.56789, 1e-9, 987654.321):
        assert _exact_tock(latency) * 1000 == latency
    assert first_difference("a\nb\n", "a\nc\n") == (2, "b", "c")
    assert first_difference("a\n", "a\nb\n") == (2, "(end of file)", "b")
    assert first_difference("x", "x") is None
    from datetime import UTC, datetime

    t0, t1 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    clock = RecordedClock([t0, t1], [5.5])
    assert (clock.now(), clock.now(), clock.now()) == (t0, t1, t1)
    tick, tock = clock.monotonic(), clock.monotonic()
    assert (tock - tick) * 1000 == 5.5
