"""``arena bench``: absolute scores with intervals, paired ablation deltas, subgroup deltas, pass^k,
the judge's agreement figures; the JSON contract; resuming; refusals."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from arena.bench.results import KEYS, model_results
from arena.bench.stats import group_delta, mean_interval, paired_delta
from arena.cli import main
from tests.hostile_fixtures import assert_one_line, cli

Capsys = pytest.CaptureFixture[str]
IMAGE_DEPENDENT = "cxr-multiple-nodules,derm-changing-mole,cxr-pneumothorax,derm-ambiguous-lesion"


def _bench(capsys: Capsys, *args: str) -> dict[str, Any]:
    code = main(["bench", *args, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def _reference(bootstrap: int, deltas: np.ndarray, rounds: int = 20000) -> tuple[float, float]:
    """An independent percentile bootstrap of the mean, by hand."""
    rng = np.random.default_rng(12345)
    means = rng.choice(deltas, size=(rounds, len(deltas)), replace=True).mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def test_the_image_ablation_costs_the_pixel_model_accuracy_and_the_blind_one_nothing(tmp_path: Path,
                                                                                     capsys: Capsys) -> None:
    doc = _bench(capsys, "--models", "reference/pixel,reference/blind", "--scenarios", IMAGE_DEPENDENT, "--seeds", "2",
                 "--ablate", "image", "--out", str(tmp_path), "--run", "img", "--bootstrap", "2000")
    pixel, blind = doc["models"]
    assert pixel["model"] == "reference/pixel" and pixel["n"] == 8 and blind["n"] == 8
    accuracy = pixel["ablations"]["image"]["accuracy"]
    assert accuracy["n"] == 8 and accuracy["delta"] < 0 and accuracy["ci_high"] < 0  # the interval excludes zero
    unchanged = blind["ablations"]["image"]["accuracy"]
    assert unchanged["n"] == 8 and unchanged["ci_low"] <= 0 <= unchanged["ci_high"]
    assert pixel["scores"]["accuracy"]["mean"] > blind["scores"]["accuracy"]["mean"]
    assert json.loads((tmp_path / "img" / "bench.json").read_text()) == doc
    ablated = list((tmp_path / "img").glob("*__no-image.json"))
    assert len(ablated) == 16 and all(json.loads(p.read_text())["ablation"] == "image" for p in ablated)


def test_the_json_document_keeps_its_contract(tmp_path: Path, capsys: Capsys) -> None:
    doc = _bench(capsys, "--models", "reference/oracle", "--scenarios", "cxr-multiple-nodules,derm-changing-mole",
                 "--ablate", "record", "--ablate", "dialogue", "--ablate", "image+record", "--out", str(tmp_path),
                 "--run", "c", "--bootstrap", "50")
    assert doc["schema_version"] == 1 and doc["ablations"] == ["record", "dialogue", "image+record"]
    (model,) = doc["models"]
    assert set(model) >= {"model", "n", "scores", "ablations", "subgroups", "pass_k"}
    assert set(model["scores"]) == set(KEYS)
    for entry in model["scores"].values():
        assert set(entry) == {"mean", "ci_low", "ci_high"}
    assert set(model["ablations"]) == {"record", "dialogue", "image+record"}
    for by_key in [*model["ablations"].values(), *model["subgroups"].values()]:
        assert set(by_key) == set(KEYS)
        for entry in by_key.values():
            assert set(entry) == {"delta", "ci_low", "ci_high", "n"}
    assert "malignant" in model["subgroups"] and model["subgroups"]["malignant"]["overall"]["delta"] is None  # no rest
    assert set(model["pass_k"]) == {"k", "pass_k", "pass_1", "tasks"}
    assert doc["agreement"]["basis"] == "none"
    dialogue = json.loads(next((tmp_path / "c").glob("*__no-dialogue.json")).read_text())
    assert [t["role"] for t in dialogue["turns"]] == ["simulator", "target"]


def _row(scenario: str, seed: int, score: int, ablation: str | None = None, model: str = "m") -> dict[str, Any]:
    return {"id": f"{scenario}-{seed}-{ablation}", "model": model, "scenario": scenario, "mode": "patient",
            "seed": seed, "ablation": ablation, "infrastructure": False, "correct": score >= 4, "transcript": "x",
            "scores": {k: score for k in KEYS if k != "overall"}}


def test_deltas_and_intervals_match_a_hand_computation() -> None:
    full = {("a", 0): 5, ("a", 1): 4, ("b", 0): 3, ("b", 1): 4, ("c", 0): 2}
    ablated = {("a", 0): 3, ("a", 1): 4, ("b", 0): 3, ("b", 1): 2, ("c", 0): 2}
    rows = [_row(s, seed, v) for (s, seed), v in full.items()]
    rows += [_row(s, seed, v, "image") for (s, seed), v in ablated.items()]
    rows.append({**_row("c", 1, 1, "image"), "infrastructure": True, "scores": {}})  # never scored
    groups = {"a": ["malignant"], "b": [], "c": ["malignant"]}
    entry = model_results("m", rows, groups, ["image"], rounds=4000, seed=3, k=1)
    deltas = np.array([ablated[k] - full[k] for k in full], dtype=float)  # -2, 0, 0, -2, 0
    got = entry["ablations"]["image"]["accuracy"]
    assert got["n"] == 5 and got["delta"] == pytest.approx(deltas.mean()) == pytest.approx(-0.8)
    low, high = _reference(4000, deltas)
    assert got["ci_low"] == pytest.approx(low, abs=0.25) and got["ci_high"] == pytest.approx(high, abs=0.25)
    assert got["ci_low"] <= -0.8 <= got["ci_high"] and got["ci_high"] <= 0
    assert entry["scores"]["accuracy"]["mean"] == pytest.approx(18 / 5)
    malignant = entry["subgroups"]["malignant"]["accuracy"]
    assert malignant["n"] == 3 and malignant["delta"] == pytest.approx((5 + 4 + 2) / 3 - (3 + 4) / 2, abs=1e-4)
    assert entry["errors"] == {"infrastructure": 1, "judge": 0}
    # a constant difference has a zero-width interval; one value has none
    assert paired_delta([3, 4, 5], [2, 3, 4], rounds=100, seed=0).as_delta() == {
        "delta": -1.0, "ci_low": -1.0, "ci_high": -1.0, "n": 3}
    assert mean_interval([4.0], rounds=100, seed=0).as_mean() == {"mean": 4.0, "ci_low": None, "ci_high": None, "n": 1}
    assert group_delta([1, 2], [], rounds=100, seed=0).value is None
    with pytest.raises(ValueError, match="pairs"):
        paired_delta([1, 2], [1], rounds=100, seed=0)


def test_the_same_run_gives_the_same_figures(tmp_path: Path, capsys: Capsys) -> None:
    args = ["--models", "reference/skill-0.6", "--scenarios", "starter", "--ablate", "record", "--bootstrap", "200"]
    first = _bench(capsys, *args, "--out", str(tmp_path), "--run", "r1")
    second = _bench(capsys, *args, "--out", str(tmp_path), "--run", "r2")
    assert first["models"] == second["models"]


def test_resume_plays_only_what_is_missing(tmp_path: Path, capsys: Capsys) -> None:
    args = ["--models", "reference/oracle,reference/blind", "--scenarios", "cxr-multiple-nodules,derm-changing-mole",
            "--ablate", "image", "--out", str(tmp_path), "--run", "res", "--bootstrap", "50"]
    whole = _bench(capsys, *args)
    folder = tmp_path / "res"
    files = sorted(folder.glob("*.json"))
    orphan = next(p for p in files if "oracle" in p.name and "no-image" in p.name)
    gone = next(p for p in files if "blind" in p.name and "no-image" not in p.name and "derm" in p.name)
    stamp = orphan.stat().st_mtime_ns
    with sqlite3.connect(folder / "arena.sqlite") as db:  # as if killed before these two were recorded
        for path in (orphan, gone):
            enc = json.loads(path.read_text())["encounter_id"]
            db.execute("DELETE FROM bench_cells WHERE encounter_id = ?", (enc,))
            db.execute("DELETE FROM verdicts WHERE encounter_id = ?", (enc,))
            db.execute("DELETE FROM encounters WHERE id = ?", (enc,))
    gone.unlink()
    (folder / ".arena-run").touch()
    resumed = _bench(capsys, "--resume", "--run", "res", "--out", str(tmp_path))
    assert resumed["models"] == whole["models"]
    assert orphan.stat().st_mtime_ns == stamp and gone.exists()  # the orphan read back, the missing one played
    with sqlite3.connect(folder / "arena.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM bench_cells").fetchone()[0] == 8
    code, _, err = cli(capsys, "bench", "--resume", "--run", "res", "--out", str(tmp_path), "--ablate", "record")
    assert_one_line(err, code, 2, "--resume", "ablations")


@pytest.mark.parametrize(("args", "needles"), [
    (["--models", "reference/oracle", "--ablate", "images"], ["--ablate", "image+record"]),
    (["--models", "reference/oracle", "--ablate", "image", "--ablate", "image"], ["more than once"]),
    (["--models", "reference/oracle", "--ablate", "record", "--simulator", "reference/oracle"], ["rule-based"]),
    (["--ablate", "image"], ["--models is required"]),
    (["--models", "reference/oracle", "--annotations", "/nonexistent/a.jsonl"], ["--annotations", "no such file"]),
    (["--models", "nope/x"], ["nope"]),
    (["--models", "reference/oracle", "--scenarios", "tag:nothing"], ["valid:"]),
])
def test_bad_options_are_one_line_before_any_work(tmp_path: Path, capsys: Capsys, args: list[str],
                                                  needles: list[str]) -> None:
    code, _, err = cli(capsys, "bench", *args, "--out", str(tmp_path), "--run", "bad")
    assert_one_line(err, code, 2, *needles)
    assert not (tmp_path / "bad").exists()


def test_human_annotations_given_on_resume_report_the_judges_agreement(tmp_path: Path, capsys: Capsys) -> None:
    args = ["--models", "reference/oracle,reference/blind", "--scenarios", "starter", "--out", str(tmp_path),
            "--bootstrap", "50"]
    doc = _bench(capsys, *args, "--run", "h")
    assert doc["agreement"]["basis"] == "none"
    lines = []
    for path in sorted((tmp_path / "h").glob("*__s0.json")):
        t = json.loads(path.read_text())
        for dimension, score in t["verdict"]["scores"].items():
            lines.append({"transcript_id": t["encounter_id"], "dimension": dimension, "score": score["score"],
                          "rater": "ann"})
            lines.append({"transcript_id": t["encounter_id"], "dimension": dimension,
                          "score": max(1, score["score"] - 1), "rater": "bob"})
    annotations = tmp_path / "a.jsonl"
    annotations.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    again = _bench(capsys, "--resume", "--run", "h", "--out", str(tmp_path), "--annotations", str(annotations))
    assert again["models"] == doc["models"]  # nothing replayed, the same figures
    agreement = again["agreement"]
    assert agreement["basis"] == "humans" and agreement["annotations"] == len(lines)
    safety = agreement["dimensions"]["safety"]
    (row,) = safety["judges"]
    assert row["a"] == "offline/rubric-v2" and row["agreement"]["n"] == 8 and row["agreement"]["spearman"] > 0.5
    assert safety["humans"][0]["agreement"]["within_one"] == 1.0
    code = main(["bench", "--resume", "--run", "h", "--out", str(tmp_path), "--annotations", str(annotations)])
    out = capsys.readouterr().out
    assert code == 0 and "Judge agreement (with humans)" in out and "Scores (1-5" in out


def test_a_bench_run_in_the_report_and_refused_by_the_tournament_commands(tmp_path: Path, capsys: Capsys) -> None:
    _bench(capsys, "--models", "reference/pixel,reference/blind", "--scenarios", "cxr-multiple-nodules",
           "--ablate", "image", "--out", str(tmp_path), "--run", "rep", "--bootstrap", "50")
    folder = tmp_path / "rep"
    assert main(["report", str(folder)]) == 0 and main(["report", str(folder), "--markdown"]) == 0
    said = capsys.readouterr().out
    assert "report of benchmark rep: 4 transcripts" in said and "left out" not in said
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert page.count('<tr class="model-row">') == 2 and "Without image: ablated minus full" in page
    assert page.count("· without image ·") == 2  # the ablated transcripts say so in the browser
    assert "### Without image" in (folder / "report.md").read_text(encoding="utf-8")
    code, _, err = cli(capsys, "leaderboard", str(folder))
    assert_one_line(err, code, 2, "benchmark run", "arena report")
    code, _, err = cli(capsys, "tournament", "--resume", "--run", "rep", "--out", str(tmp_path))
    assert_one_line(err, code, 2, "benchmark run", "arena bench --resume")
