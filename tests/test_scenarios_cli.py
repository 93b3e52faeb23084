from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from arena.cli import main
from scenarios.library import ScenarioLibrary

BROKEN = Path(__file__).parent / "data" / "broken_scenarios"


def test_list_json_and_tag_filter(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenarios", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["id"] for r in rows} == set(ScenarioLibrary().ids())
    assert main(["scenarios", "list", "--json", "--tag", "malignant"]) == 0
    malignant = json.loads(capsys.readouterr().out)
    assert malignant and all("malignant" in r["tags"] for r in malignant)
    assert len(malignant) < len(rows)


def test_show_and_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenarios", "show", "cxr-multiple-nodules", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["ground_truth"]["diagnosis"]["name"] == "pulmonary metastases"
    assert main(["scenarios", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "Scenario" and "ground_truth" in schema["properties"]


def test_validate_passes_on_the_library(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenarios", "validate", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["problems"] == [] and report["files"] == len(ScenarioLibrary().ids())


def test_validate_names_every_broken_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenarios", "validate", str(BROKEN), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    by_file = {Path(p["file"]).stem: p for p in report["problems"]}
    expected = {
        "unknown-field": ("ground_truth.diagnosys", "Extra inputs"),
        "missing-image": ("images[0].path", "does not exist"),
        "sha-mismatch": ("images[0].sha256", "scenario pins"),
        "undecodable": ("images[0]", "does not decode"),
        "bomb": ("images[0]", "decompression bomb"),
        "escaping-path": ("images[0].path", "inside the scenarios folder"),
        "bad-dimension": ("rubric[0].dimension", "'accuracy'"),
        "leaky-persona": ("persona.opening_concern", "leaks the diagnosis"),
        "invalid-json": ("(file)", "invalid JSON"),
        "id-mismatch": ("id", "does not match the file name"),
    }
    assert set(by_file) == set(expected)  # every broken file reported, the good one not
    for stem, (field, reason) in expected.items():
        assert by_file[stem]["field"] == field, stem
        assert reason in by_file[stem]["reason"], stem
    assert report["files"] == len(expected) + 1


def _png(path: Path) -> Path:
    Image.new("RGB", (48, 32), (200, 120, 90)).save(path)
    return path


def test_import_agentclinic_both_record_styles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _png(tmp_path / "rash.png")
    _png(tmp_path / "xray.png")
    medqa = {
        "image_path": "xray.png",
        "OSCE_Examination": {
            "Objective_for_Doctor": "Assess and diagnose the patient presenting with cough and fever.",
            "Patient_Actor": {
                "Demographics": "58-year-old male",
                "History": "Three days of productive cough and fever.",
                "Symptoms": {"Primary_Symptom": "Cough with fever", "Secondary_Symptoms": ["Chills", "Pleuritic chest pain"]},
                "Past_Medical_History": "Type 2 diabetes.",
                "Social_History": "Smokes 10 cigarettes a day.",
                "Review_of_Systems": "No weight loss.",
            },
            "Physical_Examination_Findings": {"Vital_Signs": {"Temperature": "38.9 C"}, "Chest": "Crackles at the right base."},
            "Test_Results": {"Chest_XRay": "Right lower lobe consolidation."},
            "Correct_Diagnosis": "Community-acquired pneumonia",
        },
    }
    text_only = {"OSCE_Examination": {**medqa["OSCE_Examination"], "Correct_Diagnosis": "Asthma"}}  # type: ignore[dict-item]
    nejm = {
        "image_url": "rash.png",
        "question": "What is the most likely diagnosis?",
        "patient_info": "A 30-year-old woman presents with an itchy rash on both elbows for 6 months.",
        "physical_exams": "Well-demarcated erythematous plaques with silvery scale.",
        "answers": [{"text": "Psoriasis", "correct": True}, {"text": "Eczema", "correct": False},
                    {"text": "Tinea corporis", "correct": False}],
    }
    remote = {**nejm, "image_url": "https://example.org/nejm/123.jpg"}
    lines = [json.dumps(medqa), json.dumps(text_only), json.dumps(nejm), json.dumps(remote), "{not json", "[]"]
    source = tmp_path / "agentclinic.jsonl"
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "lib"
    assert main(["scenarios", "import", "agentclinic", str(source), "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    imported = {r["line"]: r["id"] for r in result["imported"]}
    refused = {r["line"]: r["reason"] for r in result["refused"]}
    assert set(imported) == {1, 3}
    assert set(refused) == {2, 4, 5, 6}
    assert "text-only" in refused[2] and "remote" in refused[4] and "invalid JSON" in refused[5]
    lib = ScenarioLibrary(out)
    medqa_case, nejm_case = lib.get(imported[1]), lib.get(imported[3])
    assert medqa_case.ground_truth.diagnosis.name == "Community-acquired pneumonia"
    assert (medqa_case.patient.age, medqa_case.patient.sex) == (58, "male")
    assert any("smokes" in f.clinician_says.lower() for f in medqa_case.patient.facts)
    assert nejm_case.ground_truth.diagnosis.name == "Psoriasis"
    assert {d.name for d in nejm_case.ground_truth.differential} == {"Eczema", "Tinea corporis"}
    assert "imported" in nejm_case.tags
    for case in (medqa_case, nejm_case):
        assert lib.image_bytes(case)["current"]  # pinned, decodable, inside the library
    # The imported library is valid as data; what its "needs-review" tag stands for is reported by
    # name: exam and test results revealed as facts restate the findings (a target that repeats them
    # back would earn them), and the records' clinical words are not a lay patient's.
    assert main(["scenarios", "validate", str(out), "--json"]) == 1
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert {Path(p["file"]).parent for p in problems} == {out / "cases"}
    assert any("earns the target credit" in p["reason"] for p in problems)
    assert any("jargon" in p["reason"] for p in problems)
    assert all(p["field"].startswith("patient.facts[") and ("earns the target credit" in p["reason"]
                                                           or "jargon" in p["reason"]) for p in problems), problems
    # A text-only record can be paired with an image.
    paired = tmp_path / "paired"
    assert main(["scenarios", "import", "agentclinic", str(source), "--out", str(paired),
                 "--image", str(tmp_path / "xray.png"), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert {r["line"] for r in again["imported"]} == {1, 2, 3}
    # An imported case plays end to end.
    transcript_dir = tmp_path / "runs"
    assert main(["match", "--library", str(out), "--scenario", imported[3], "--target", "reference/oracle",
                 "--out", str(transcript_dir), "--json"]) == 0
    played = json.loads(capsys.readouterr().out)
    assert played["termination"] == "completed" and played["scores"]["accuracy"] >= 4
