"""Builders for the hostile-input tests: a small valid library, image bytes of many formats,
AgentClinic records, and a checker for one-line CLI errors."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from arena.cli import main
from tests.data.make_broken import base


def image_bytes(fmt: str, size: tuple[int, int] = (48, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (180, 120, 90)).save(buffer, format=fmt)
    return buffer.getvalue()


def make_library(root: Path, cases: dict[str, dict[str, Any]] | None = None) -> Path:
    """``root`` with images/good.png and cases (default: one valid case named ``good``)."""
    (root / "cases").mkdir(parents=True, exist_ok=True)
    (root / "images").mkdir(exist_ok=True)
    png = image_bytes("PNG")
    (root / "images" / "good.png").write_bytes(png)
    if cases is None:
        cases = {"good": good_case("good")}
    for name, case in cases.items():
        (root / "cases" / f"{name}.json").write_text(json.dumps(case, indent=2))
    return root


def good_case(case_id: str, **changes: Any) -> dict[str, Any]:
    png = image_bytes("PNG")
    case = copy.deepcopy(base(case_id, "images/good.png", hashlib.sha256(png).hexdigest()))
    case.update(changes)
    return case


def osce(**actor_changes: Any) -> dict[str, Any]:
    actor: dict[str, Any] = {
        "Demographics": "58-year-old male",
        "History": "Three days of productive cough and fever.",
        "Symptoms": {"Primary_Symptom": "Cough with fever", "Secondary_Symptoms": ["Chills"]},
        "Past_Medical_History": "Type 2 diabetes.",
    }
    actor.update(actor_changes)
    return {
        "image_path": "xray.png",
        "OSCE_Examination": {
            "Objective_for_Doctor": "Assess and diagnose the patient presenting with cough and fever.",
            "Patient_Actor": actor,
            "Physical_Examination_Findings": {"Chest": "Crackles at the right base."},
            "Test_Results": {"Chest_XRay": "Right lower lobe consolidation."},
            "Correct_Diagnosis": "Community-acquired pneumonia",
        },
    }


def nejm(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "image_url": "rash.png",
        "question": "What is the most likely diagnosis?",
        "patient_info": "A 30-year-old woman presents with an itchy rash on both elbows for 6 months.",
        "physical_exams": "Well-demarcated erythematous plaques with silvery scale.",
        "answers": [{"text": "Psoriasis", "correct": True}, {"text": "Eczema", "correct": False}],
    }
    record.update(changes)
    return record


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line(err: str, code: int, expected_code: int, *needles: str) -> None:
    assert code == expected_code, (code, err)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("arena: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, err)


def write_records(path: Path, records: list[dict[str, Any]], *, leading_blank_lines: int = 0) -> Path:
    """A JSONL file of ``records`` (after ``leading_blank_lines`` empty lines, to push line numbers)."""
    path.write_text("\n" * leading_blank_lines + "".join(json.dumps(r) + "\n" for r in records))
    return path


def deep_folder(root: Path, length: int) -> Path:
    """A folder under ``root`` whose absolute path is exactly ``length`` characters (components of
    at most 200 characters, each under NAME_MAX)."""
    path = str(root.resolve())
    assert len(path) + 2 < length
    while len(path) < length:
        room = length - len(path) - 1
        path += "/" + "d" * (min(200, room) if room - min(200, room) != 1 else 199)
    folder = Path(path)
    folder.mkdir(parents=True)
    assert len(str(folder)) == length
    return folder


def closed_pipe() -> int:
    """The write end of a pipe whose reader has already gone: every write fails with EPIPE."""
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)
    return write_end


# -- shared by the hostile-input modules --------------------------------------------------------
ARENA = [sys.executable, "-m", "arena.cli"]
Capsys = pytest.CaptureFixture[str]


def import_records(capsys: Capsys, source: Path, out: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    code, stdout, err = cli(capsys, "scenarios", "import", "agentclinic", str(source), "--out", str(out),
                            "--json", *extra)
    assert "Traceback" not in err
    return code, json.loads(stdout)


def forbid_playing(monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse(*_: object, **__: object) -> None:
        raise AssertionError("an encounter was played before the output was checked")

    monkeypatch.setattr("arena.cli.play", refuse)
    monkeypatch.setattr("arena.tournament.play.play", refuse)  # the demo is a tournament


PAYLOAD = "\x1b[2J\x1b]0;pwned\x07\u202eevil\u2066 \x9b31m"


def assert_inert(text: str) -> None:
    for raw in ("\x1b", "\x07", "\u202e", "\u2066", "\x9b"):
        assert raw not in text, repr(raw)


SUB_ENV = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}


def arena_exe() -> str:
    return str(Path(sys.executable).with_name("arena"))
