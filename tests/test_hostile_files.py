"""Hostile input (issue 6), part of the hardening suite: Case files and images: caps, special files, parse errors, media types, finite and strict numbers.

Every case asserts a one-line error (exit 2 for usage, 1 for an invalid file) or safe handling,
with no traceback and nothing lost.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from arena.clients.scripted import ScriptedClient
from arena.composition import run_encounter
from arena.files import FileRefused, load_json_file, parse_json_text, read_regular_file
from arena.limits import (
    MAX_ANSWER_CHARS,
    MAX_PHRASES_PER_LIST,
)
from arena.schemas.messages import ImagePart
from arena.schemas.scenario import Scenario
from arena.schemas.verdict import DimensionScore
from scenarios.library import Problem, ScenarioLibrary, validate_paths
from tests.conftest import run
from tests.hostile_fixtures import (
    ARENA,
    Capsys,
    assert_one_line,
    cli,
    good_case,
    image_bytes,
    import_records,
    make_library,
)

# -- 2. unbounded work: caps and near-linear matching ----------------------------------------------

def test_twenty_thousand_synonyms_validate_quickly(tmp_path: Path) -> None:
    case = good_case("many-synonyms")
    finding = case["ground_truth"]["findings"][0]
    case["ground_truth"]["findings"] = [
        {**finding, "id": f"f{n}", "synonyms": [f"term{n}x{k}" for k in range(MAX_PHRASES_PER_LIST)]}
        for n in range(100)
    ]
    case["ground_truth"]["diagnosis"]["synonyms"] = [f"dx{k}" for k in range(MAX_PHRASES_PER_LIST - 1)]
    root = make_library(tmp_path / "lib", {"many-synonyms": case})
    start = time.perf_counter()
    assert validate_paths([root]) == (1, [])
    assert time.perf_counter() - start < 10  # 20,000 finding synonyms + 200 diagnosis phrases
    huge = good_case("huge-list")
    huge["ground_truth"]["diagnosis"]["synonyms"] = [f"dx{k}" for k in range(20_000)]
    make_library(root, {"huge-list": huge})
    start = time.perf_counter()
    _, problems = validate_paths([root / "cases" / "huge-list.json"])
    assert time.perf_counter() - start < 5
    assert [p.field for p in problems] == ["ground_truth.diagnosis.synonyms"]
    assert "at most 200" in problems[0].reason


def test_over_long_answers_are_cut_and_the_cut_recorded(library: ScenarioLibrary, cxr: Scenario) -> None:
    answer = "nodule " * (MAX_ANSWER_CHARS // 7 + 5000)
    start = time.perf_counter()
    transcript = run(run_encounter(cxr, ScriptedClient("s", [answer]), library.image_bytes(cxr), max_turns=2))
    assert time.perf_counter() - start < 30
    first = transcript.target_turns()[0]
    assert len(first.text) == MAX_ANSWER_CHARS
    assert first.truncated_chars == len(answer) - MAX_ANSWER_CHARS


# -- 3. special files: only regular files, read with a cap -----------------------------------------

def test_a_fifo_case_file_is_refused_without_hanging(tmp_path: Path) -> None:
    root = make_library(tmp_path / "lib")
    os.mkfifo(root / "cases" / "fifo.json")
    proc = subprocess.run([*ARENA, "scenarios", "validate", str(root), "--json"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    problems = json.loads(proc.stdout)["problems"]
    assert [(Path(p["file"]).name, p["reason"]) for p in problems] == [("fifo.json", "not a regular file (a FIFO)")]
    proc = subprocess.run([*ARENA, "match", "--library", str(root), "--scenario", "fifo", "--target",
                           "reference/oracle", "--out", str(tmp_path / "t")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1 and "a FIFO" in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_symlinks_to_devices_and_directories_are_refused(tmp_path: Path) -> None:
    root = make_library(tmp_path / "lib")
    (root / "cases" / "zero.json").symlink_to("/dev/zero")
    (root / "cases" / "folder.json").mkdir()
    case = good_case("zero-image")
    case["images"][0]["path"] = "images/zero.png"
    make_library(root, {"zero-image": case})
    (root / "images" / "zero.png").symlink_to("/dev/zero")
    case = good_case("fifo-image")
    case["images"][0]["path"] = "images/fifo.png"
    make_library(root, {"fifo-image": case})
    os.mkfifo(root / "images" / "fifo.png")
    checked, problems = validate_paths([root])
    reasons = {Path(p.file).stem: p.reason for p in problems}
    assert checked == 5
    assert reasons["zero"] == "not a regular file (a character device)"
    assert reasons["folder"] == "not a regular file (a directory)"
    assert "escapes the scenarios folder" in reasons["zero-image"]  # the link is resolved first
    assert "not a regular file (a FIFO)" in reasons["fifo-image"]
    with pytest.raises(FileRefused, match="over the 10-byte limit"):
        read_regular_file(root / "cases" / "good.json", limit=10)


# -- 4. parse errors: invalid UTF-8, deep nesting, huge integers, NUL bytes ------------------------

@pytest.mark.parametrize(("content", "reason"), [
    (b'{"id": "\xff\xfe"}', "not valid UTF-8 (byte 8)"),
    (b"[" * 100_000 + b"]" * 100_000, "nested deeper than 32 levels"),
    (b'{"a":' * 40 + b"1" + b"}" * 40, "nested deeper than 32 levels"),
    (b'{"n": ' + b"9" * 5000 + b"}", "integer with 5000 digits"),
    (b'{"n": NaN}', "NaN is not a JSON number"),
    (b'{"n": 1e309}', "number 1e309 is not finite"),
])
def test_parse_errors_are_reported_not_raised(tmp_path: Path, capsys: Capsys, content: bytes, reason: str) -> None:
    root = make_library(tmp_path / "lib")
    (root / "cases" / "bad.json").write_bytes(content)
    code, out, err = cli(capsys, "scenarios", "validate", str(root), "--json")
    assert code == 1 and "Traceback" not in err
    problems = json.loads(out)["problems"]
    assert len(problems) == 1 and reason in problems[0]["reason"], problems
    code, _, err = cli(capsys, "match", "--library", str(root), "--scenario", "bad", "--target", "reference/oracle",
                       "--out", str(tmp_path / "t"))
    assert_one_line(err, code, 1, "bad.json", reason)
    source = tmp_path / "records.jsonl"
    source.write_bytes(content + b"\n")
    code, report = import_records(capsys, source, tmp_path / "imported")
    assert code == 1 and reason in report["refused"][0]["reason"]  # type: ignore[index]


def test_a_nul_byte_in_an_image_path_is_a_field_problem(tmp_path: Path) -> None:
    case = good_case("nul-path")
    case["images"][0]["path"] = "images/go\x00od.png"
    root = make_library(tmp_path / "lib", {"nul-path": case})
    _, problems = validate_paths([root])
    assert [(p.field, "NUL" in p.reason) for p in problems] == [("images[0].path", True)]


# -- 10. image bytes must be of the declared, allowed type ----------------------------------------------

@pytest.mark.parametrize(("fmt", "declared", "reason"), [
    ("JPEG", "image/png", "declared image/png but the bytes are JPEG"),
    ("PNG", "image/jpeg", "declared image/jpeg but the bytes are PNG"),
    ("GIF", "image/png", "image content is GIF; allowed: PNG (image/png), JPEG (image/jpeg)"),
    ("TIFF", "image/png", "image content is TIFF"),
    ("BMP", "image/png", "image content is BMP"),
])
def test_image_content_must_match_its_media_type(tmp_path: Path, fmt: str, declared: str, reason: str) -> None:
    import hashlib

    data = image_bytes(fmt)
    case = good_case("typed")
    case["images"][0].update(path="images/typed.img", sha256=hashlib.sha256(data).hexdigest(), media_type=declared)
    root = make_library(tmp_path / "lib", {"typed": case})
    (root / "images" / "typed.img").write_bytes(data)
    _, problems = validate_paths([root])
    assert len(problems) == 1 and reason in problems[0].reason
    with pytest.raises(ValidationError, match="bytes are not image/png"):
        ImagePart(image_id="x", media_type="image/png", data=image_bytes("JPEG"))


# -- 11. non-finite numbers are refused everywhere ----------------------------------------------------

def test_non_finite_numbers_are_refused(tmp_path: Path) -> None:
    root = make_library(tmp_path / "lib")
    path = root / "cases" / "good.json"
    path.write_text(path.read_text().replace('"label": "opacity"', '"label": "opacity", "weight": 1e309'))
    _, problems = validate_paths([root])
    assert [p.reason for p in problems] == ["invalid JSON: number 1e309 is not finite"]
    raw = good_case("x")
    raw["ground_truth"]["findings"][0]["weight"] = float("inf")
    with pytest.raises(ValidationError, match="finite"):
        Scenario.model_validate(raw)
    raw = good_case("x")
    raw["images"][0]["source"]["params"] = {"size": float("nan")}
    with pytest.raises(ValidationError, match="finite"):
        Scenario.model_validate(raw)
    with pytest.raises(ValidationError):
        DimensionScore(score=3, rationale="r", fraction=float("nan"))
    with pytest.raises(FileRefused, match="not finite"):
        load_json_file(path, limit=10**6)


# -- S8. no silent data loss or coercion in case files ------------------------------------------------------

def test_duplicate_json_keys_are_refused(tmp_path: Path) -> None:
    root = make_library(tmp_path / "lib")
    path = root / "cases" / "good.json"
    text = path.read_text()
    path.write_text(text.replace('"ground_truth": {', '"ground_truth": {"findings": [], "ambiguity": "low"},\n'
                                 '  "ground_truth": {', 1))
    assert validate_paths([root])[1] == [Problem(str(path), "(file)", "invalid JSON: duplicate key 'ground_truth'")]
    with pytest.raises(FileRefused, match="duplicate key 'a'"):
        parse_json_text('{"b": {"a": 1, "a": 2}}')


@pytest.mark.parametrize(("where", "value"), [
    (("patient", "age"), True), (("patient", "age"), "40"), (("patient", "age"), 1e2),
    (("schema_version",), True), (("schema_version",), 1.0), (("rubric", 0, "points"), 3.0),
    (("ground_truth", "findings", 0, "weight"), True), (("ground_truth", "diagnosis", "probability"), "0.5"),
    (("patient", "vitals", "heart_rate"), 80.0),
])
def test_numbers_are_not_coerced(tmp_path: Path, where: tuple[str | int, ...], value: object) -> None:
    case = good_case("lax")
    case["patient"]["vitals"] = {}
    node: Any = case
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    root = make_library(tmp_path / "lib", {"lax": case})
    _, problems = validate_paths([root])
    field = ".".join(str(k) for k in where).replace(".0.", "[0].")
    assert [p.field for p in problems] == [field], problems
    good = good_case("fine")
    good["ground_truth"]["diagnosis"]["probability"] = 1  # an integer where a float belongs is fine
    assert Scenario.model_validate(good).ground_truth.diagnosis.probability == 1.0
