"""Hostile input, one section per cause found in the hardening sweep (issue 6).

Every case asserts a one-line error (exit 2 for usage, 1 for an invalid file) or safe handling,
with no traceback and nothing lost.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from arena.clients.registry import check_spec
from arena.clients.scripted import ScriptedClient
from arena.encounter.run import run_encounter
from arena.errors import ArenaError
from arena.files import FileRefused, atomic_write, load_json_file, parse_json_text, read_regular_file
from arena.limits import (
    MAX_ANSWER_CHARS,
    MAX_ECHO_CHARS,
    MAX_OUTPUT_NAME_CHARS,
    MAX_PHRASES_PER_LIST,
    MAX_PROBLEMS_PER_FILE,
)
from arena.runner import RUN_MARKER, prepare_run_dir, save_transcript, transcript_filename
from arena.schemas.messages import ImagePart
from arena.schemas.scenario import Scenario
from arena.schemas.transcript import TerminationReason
from arena.schemas.verdict import DimensionScore
from scenarios.library import Problem, ScenarioLibrary, validate_paths
from tests.conftest import run
from tests.hostile_fixtures import (
    assert_one_line,
    cli,
    closed_pipe,
    deep_folder,
    good_case,
    image_bytes,
    make_library,
    nejm,
    osce,
    write_records,
)

ARENA = [sys.executable, "-m", "arena.cli"]
Capsys = pytest.CaptureFixture[str]


# -- 1. importer: no data loss, atomic writes, a bad record never aborts the import ----------------

def _import(capsys: Capsys, source: Path, out: Path, *extra: str) -> tuple[int, dict[str, object]]:
    code, stdout, err = cli(capsys, "scenarios", "import", "agentclinic", str(source), "--out", str(out),
                            "--json", *extra)
    assert "Traceback" not in err
    return code, json.loads(stdout)


def test_refused_reimport_keeps_the_existing_case_and_its_image(tmp_path: Path, capsys: Capsys) -> None:
    (tmp_path / "xray.png").write_bytes(image_bytes("PNG"))
    source = tmp_path / "records.jsonl"
    source.write_text(json.dumps(osce()) + "\n")
    out = tmp_path / "lib"
    code, first = _import(capsys, source, out)
    assert code == 0 and len(first["imported"]) == 1  # type: ignore[arg-type]
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    (tmp_path / "xray.png").write_bytes(image_bytes("PNG", (64, 64)))  # the source image changed meanwhile
    code, second = _import(capsys, source, out)
    assert code == 1 and not second["imported"]
    assert "exists (use --overwrite)" in second["refused"][0]["reason"]  # type: ignore[index]
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before  # nothing touched
    assert validate_paths([out]) == (1, [])  # every previously valid case still validates
    code, third = _import(capsys, source, out, "--overwrite")
    assert code == 0 and validate_paths([out]) == (1, [])


def test_a_malformed_record_is_refused_and_the_others_imported(tmp_path: Path, capsys: Capsys) -> None:
    (tmp_path / "xray.png").write_bytes(image_bytes("PNG"))
    (tmp_path / "rash.png").write_bytes(image_bytes("PNG"))
    records = [
        osce(),
        osce(Symptoms=["cough"]),  # a list where an object belongs
        {"image_path": "xray.png", "OSCE_Examination": {**osce()["OSCE_Examination"], "Patient_Actor": "a man"}},
        nejm(answers=["Psoriasis", "Eczema"]),  # answers of strings
        nejm(),
        {"OSCE_Examination": [1, 2]},
        nejm(image_url="bad\x00name.png"),
    ]
    source = tmp_path / "records.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    code, report = _import(capsys, source, tmp_path / "lib")
    assert code == 0
    assert sorted(r["line"] for r in report["imported"]) == [1, 5]  # type: ignore[union-attr]
    reasons = {r["line"]: r["reason"] for r in report["refused"]}  # type: ignore[union-attr]
    assert set(reasons) == {2, 3, 4, 6, 7}
    assert "Symptoms" in reasons[2] and "Patient_Actor" in reasons[3] and "answers.0" in reasons[4]
    assert "OSCE_Examination" in reasons[6] and "NUL" in reasons[7]


def test_import_default_out_is_not_the_built_in_library() -> None:
    from arena.cli import build_parser

    args = build_parser().parse_args(["scenarios", "import", "agentclinic", "x.jsonl"])
    assert args.out == Path("imported")


def test_case_files_are_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write killed before its rename leaves the old file whole and no half-written case visible."""
    target = tmp_path / "case.json"
    target.write_text('{"old": true}')

    def killed(*_: object) -> None:
        raise KeyboardInterrupt  # the process dies between writing and renaming

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, '{"new": true}')
    assert target.read_text() == '{"old": true}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.json"]


def test_leftover_temp_files_are_never_read_as_cases(tmp_path: Path) -> None:
    root = make_library(tmp_path / "lib")
    (root / "cases" / ".good.json.x1y2.tmp").write_text("")  # what a SIGKILL mid-write leaves behind
    assert ScenarioLibrary(root).ids() == ["good"]
    assert validate_paths([root]) == (1, [])


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
    code, report = _import(capsys, source, tmp_path / "imported")
    assert code == 1 and reason in report["refused"][0]["reason"]  # type: ignore[index]


def test_a_nul_byte_in_an_image_path_is_a_field_problem(tmp_path: Path) -> None:
    case = good_case("nul-path")
    case["images"][0]["path"] = "images/go\x00od.png"
    root = make_library(tmp_path / "lib", {"nul-path": case})
    _, problems = validate_paths([root])
    assert [(p.field, "NUL" in p.reason) for p in problems] == [("images[0].path", True)]


# -- 5. target failures end as recorded infrastructure errors, never a crash ------------------------

class _Raising:
    name = "hostile/raiser"
    supports_images = True

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
        self.calls = 0

    async def complete(self, request: object) -> object:
        self.calls += 1
        raise self.exc


@pytest.mark.parametrize(("exc", "attempts"), [(RuntimeError("boom"), 1), (TimeoutError("slow"), 3),
                                               (ConnectionResetError("reset"), 3), (ValueError("bad"), 1)])
def test_a_raising_target_is_a_recorded_target_error(library: ScenarioLibrary, cxr: Scenario, tmp_path: Path,
                                                     exc: BaseException, attempts: int) -> None:
    client = _Raising(exc)
    transcript = run(run_encounter(cxr, client, library.image_bytes(cxr), retries=2, retry_backoff_s=0.0))
    assert transcript.termination == TerminationReason.TARGET_ERROR
    assert client.calls == attempts and len(transcript.errors) == attempts
    assert transcript.errors[0].error_type == type(exc).__name__
    assert save_transcript(transcript, tmp_path).exists()


def test_a_lone_surrogate_answer_is_stored_safely(library: ScenarioLibrary, cxr: Scenario, tmp_path: Path) -> None:
    transcript = run(run_encounter(cxr, ScriptedClient("s", ["nodules \ud800 here"]), library.image_bytes(cxr),
                                   max_turns=2))
    assert transcript.termination in (TerminationReason.COMPLETED, TerminationReason.TURN_BUDGET)
    assert transcript.target_turns()[0].text == "nodules \ufffd here"
    path = save_transcript(transcript, tmp_path)
    assert "\ufffd" in json.loads(path.read_text(encoding="utf-8"))["turns"][1]["text"]


# -- 6. outputs checked before any work; 7. unique temporary files ----------------------------------

def _no_play(monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse(*_: object, **__: object) -> None:
        raise AssertionError("an encounter was played before the output was checked")

    monkeypatch.setattr("arena.cli.play", refuse)


@pytest.mark.parametrize("kind", ["file", "too-long", "proc", "read-only"])
def test_unwritable_out_is_refused_before_playing(tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch,
                                                  kind: str) -> None:
    _no_play(monkeypatch)
    out = {"file": tmp_path / "a-file", "too-long": tmp_path / ("x" * 300), "proc": Path("/proc/arena-out"),
           "read-only": tmp_path / "ro"}[kind]
    if kind == "file":
        out.write_text("not a folder")
    if kind == "read-only":  # tests run as root, who may write anywhere: make the mount say EROFS
        real = os.open

        def erofs(path: str, flags: int, *args: object, **kwargs: object) -> int:
            if str(path).startswith(str(out)) and flags & os.O_CREAT:
                raise OSError(errno.EROFS, "Read-only file system", path)
            return real(path, flags, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "open", erofs)
    for command in (["match", "--scenario", "cxr-multiple-nodules", "--target", "reference/oracle"], ["demo"]):
        code, _, err = cli(capsys, *command, "--out", str(out))
        assert_one_line(err, code, 2, "--out")
    if kind == "read-only":
        assert "read-only file system" in err


def test_transcripts_of_different_runs_never_overwrite_each_other(tmp_path: Path, capsys: Capsys) -> None:
    args = ["match", "--scenario", "cxr-multiple-nodules", "--target", "reference/hedger", "--out", str(tmp_path),
            "--json"]
    first = json.loads(cli(capsys, *args)[1])
    second = json.loads(cli(capsys, *args)[1])
    assert first["run"] != second["run"] and Path(first["transcript"]).exists() and Path(second["transcript"]).exists()
    code, _, err = cli(capsys, *args, "--run", first["run"])
    assert_one_line(err, code, 2, "already exists")


def test_concurrent_writers_of_one_file_never_corrupt_it(tmp_path: Path) -> None:
    target = tmp_path / "t.json"
    payloads = [(chr(65 + n) * 300_000).encode() for n in range(6)]
    errors: list[BaseException] = []

    def writer(data: bytes) -> None:
        try:
            for _ in range(15):
                atomic_write(target, data)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(p,)) for p in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert target.read_bytes() in payloads
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]


def test_a_saved_transcript_is_never_replaced(library: ScenarioLibrary, cxr: Scenario, tmp_path: Path) -> None:
    transcript = run(run_encounter(cxr, ScriptedClient("s", ["Nodules."]), library.image_bytes(cxr), max_turns=1))
    path = save_transcript(transcript, tmp_path)
    with pytest.raises(ArenaError, match="already exists"):
        save_transcript(transcript, tmp_path)
    assert path.read_text() == transcript.model_dump_json(indent=2) + "\n"


# -- 8. terminal injection; 9. markup in user and case text -------------------------------------------

PAYLOAD = "\x1b[2J\x1b]0;pwned\x07\u202eevil\u2066 \x9b31m"


def _assert_inert(text: str) -> None:
    for raw in ("\x1b", "\x07", "\u202e", "\u2066", "\x9b"):
        assert raw not in text, repr(raw)


def test_model_text_is_neutralised_when_printed(library: ScenarioLibrary, cxr: Scenario, tmp_path: Path) -> None:
    from arena.cli import _print_match
    from arena.terminal import make_console

    transcript = run(run_encounter(cxr, ScriptedClient("s", [f"Nodules {PAYLOAD} [/bold] done"]),
                                   library.image_bytes(cxr), max_turns=2))
    console = make_console(record=True, width=120, force_terminal=True)
    with console.capture() as capture:
        _print_match(console, transcript, tmp_path / "[/red]x.json")
    shown = capture.get()
    assert "\x1b[2J" not in shown and "\x1b]0;" not in shown and "\x07" not in shown  # only rich's colours
    assert "\u202e" not in shown and "\u2066" not in shown and "\x9b" not in shown
    assert "␛[2J" in shown and "<U+202E>" in shown and "[/bold]" in shown and "[/red]x.json" in shown


def test_case_text_is_neutralised_and_never_markup(tmp_path: Path, capsys: Capsys) -> None:
    case = good_case("hostile-text", title=f"Title [/bold] {PAYLOAD}", tags=["[red]x", "benign"])
    case["persona"]["opening_concern"] = f"I cough {PAYLOAD}"
    root = make_library(tmp_path / "lib[/bold]", {"hostile-text": case})
    code, out, err = cli(capsys, "match", "--library", str(root), "--scenario", "hostile-text", "--target",
                         "reference/oracle", "--out", str(tmp_path / "o[/i]"))
    assert code == 0 and "Traceback" not in err
    _assert_inert(out)
    assert "[/i]" in out
    code, out, err = cli(capsys, "scenarios", "validate", str(root / "cases" / "hostile-text.json"))
    assert code == 0 and "lib[/bold]" not in err
    _assert_inert(out)
    code, _, err = cli(capsys, "match", "--scenario", f"x{PAYLOAD}", "--target", "reference/oracle")
    assert_one_line(err, code, 2, "unknown scenario")
    _assert_inert(err)


def test_json_output_escapes_every_control(tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    case = good_case("hostile-json", title=f"T {PAYLOAD}")
    root = make_library(tmp_path / "lib", {"hostile-json": case})
    monkeypatch.setattr("arena.cli_scenarios.ScenarioLibrary", lambda: ScenarioLibrary(root))
    code, out, _ = cli(capsys, "scenarios", "show", "hostile-json", "--json")
    assert code == 0 and out.isascii()
    assert json.loads(out)["title"] == f"T {PAYLOAD}"  # escaped, not lost
    code, out, _ = cli(capsys, "scenarios", "show", "hostile-json")
    assert code == 0
    _assert_inert(out)


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


# -- 12. command-line rough edges -------------------------------------------------------------------------

@pytest.mark.parametrize("turns", ["0", "-1", "51", "x"])
def test_max_turns_out_of_range(capsys: Capsys, turns: str) -> None:
    code, _, err = cli(capsys, "match", "--scenario", "cxr-multiple-nodules", "--target", "reference/oracle",
                       "--max-turns", turns)
    assert_one_line(err, code, 2, "--max-turns", "from 1 to 50")


def test_unknown_flags_are_named(capsys: Capsys) -> None:
    code, _, err = cli(capsys, "--bogus")
    assert_one_line(err, code, 2, "unknown option '--bogus'", "--version")
    code, _, err = cli(capsys, "match", "--scenari", "x")
    assert_one_line(err, code, 2, "unknown option '--scenari'", "did you mean --scenario?")
    code, _, err = cli(capsys)
    assert_one_line(err, code, 2, "missing command", "match, demo, scenarios")
    code, _, err = cli(capsys, "scenarios")
    assert_one_line(err, code, 2, "missing subcommand", "list, show, validate, schema, import")


def test_missing_library_folder_is_named(capsys: Capsys, tmp_path: Path) -> None:
    code, _, err = cli(capsys, "match", "--library", str(tmp_path / "nope"), "--scenario", "x", "--target",
                       "reference/oracle")
    assert_one_line(err, code, 2, str(tmp_path / "nope"), "does not exist")


def test_schema_into_a_closed_pipe_is_quiet() -> None:
    proc = subprocess.run(f"{sys.executable} -m arena.cli scenarios schema | head -c 300", shell=True,
                          capture_output=True, text=True, timeout=120)
    assert len(proc.stdout) == 300 and proc.stderr == ""


def test_version_and_help_on_every_option(capsys: Capsys) -> None:
    import argparse

    from arena.cli import build_parser

    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.startswith("arena ")
    pending: list[argparse.ArgumentParser] = [build_parser()]
    seen = 0
    while pending:
        parser = pending.pop()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                pending += list(action.choices.values())
            else:
                seen += 1
                assert action.help, (parser.prog, action.dest)
    assert seen > 30


def test_tables_fit_80_columns_without_hiding_names(capsys: Capsys, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")
    code, out, _ = cli(capsys, "demo", "--out", str(tmp_path))
    assert code == 0
    table = [line for line in out.splitlines() if line.startswith("│ reference/")]
    assert len(table) == 6 and len({line.split("│")[1].strip() for line in table}) == 6
    assert all(len(line) <= 80 for line in out.splitlines() if "│" in line)
    code, out, _ = cli(capsys, "scenarios", "list")
    ids = {line.split("│")[1].strip() for line in out.splitlines() if line.startswith("│ ")} - {""}
    assert ScenarioLibrary().ids() == sorted(ids)


# == Second sweep (issue 6): one test per problem found ==================================================

SUB_ENV = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}


def _arena_exe() -> str:
    return str(Path(sys.executable).with_name("arena"))


# -- S1. unbounded output: problems per file capped, every echoed value clipped -----------------------

def test_problems_per_file_are_capped(tmp_path: Path, capsys: Capsys) -> None:
    case = good_case("many-keys")
    case.update({f"k{i}": 1 for i in range(5000)})
    root = make_library(tmp_path / "lib", {"many-keys": case, "good": good_case("good")})
    checked, problems = validate_paths([root])
    assert checked == 2 and len(problems) == MAX_PROBLEMS_PER_FILE
    assert problems[-1].reason == f"... and {5000 - MAX_PROBLEMS_PER_FILE + 1} more problems"
    code, out, _ = cli(capsys, "scenarios", "validate", str(root))
    assert code == 1 and len(out.splitlines()) == MAX_PROBLEMS_PER_FILE + 1  # + the summary line
    code, _, err = cli(capsys, "match", "--library", str(root), "--scenario", "many-keys", "--target",
                       "reference/oracle")
    assert_one_line(err, code, 1, "k0", "and more problems (see: arena scenarios validate")
    assert len(err) < 1000


def test_a_huge_key_or_path_is_clipped_everywhere(tmp_path: Path, capsys: Capsys) -> None:
    case = good_case("huge-key")
    case["k" * 1_000_000] = 1
    root = make_library(tmp_path / "lib", {"huge-key": case})
    _, problems = validate_paths([root])
    assert [len(p.field) for p in problems] == [MAX_ECHO_CHARS] and problems[0].field.endswith("…")
    code, out, _ = cli(capsys, "scenarios", "validate", str(root))
    assert code == 1 and len(out) < 2000
    code, _, err = cli(capsys, "match", "--library", str(root), "--scenario", "huge-key", "--target",
                       "reference/oracle")
    assert_one_line(err, code, 1, "Extra inputs are not permitted", "…")
    assert len(err) < 1000
    code, _, err = cli(capsys, "match", "--scenario", "x" * 1_000_000, "--target", "reference/oracle")
    assert_one_line(err, code, 2, "unknown scenario", "…", "derm-changing-mole")
    assert len(err) < 2000


def test_an_importer_refusal_never_echoes_a_huge_path(tmp_path: Path, capsys: Capsys) -> None:
    source = write_records(tmp_path / "records.jsonl", [nejm(image_url="a" * 3_000_000 + ".png")])
    code, report = _import(capsys, source, tmp_path / "lib")
    reason = report["refused"][0]["reason"]  # type: ignore[index]
    assert code == 1 and "File name too long" in reason and "could not convert" not in reason
    assert len(reason) < 500


def test_the_valid_scenario_list_is_clipped(tmp_path: Path, capsys: Capsys) -> None:
    root = make_library(tmp_path / "lib", {f"case-{n:04d}": good_case(f"case-{n:04d}") for n in range(45)})
    code, _, err = cli(capsys, "match", "--library", str(root), "--scenario", "nope", "--target", "reference/oracle")
    assert_one_line(err, code, 2, "unknown scenario 'nope'", "case-0000", "case-0019", "and 25 more; see")
    assert "case-0020" not in err
    code, _, err = cli(capsys, "match", "--scenario", "nope", "--target", "reference/oracle")
    assert_one_line(err, code, 2, "more; see arena scenarios list")


# -- S2. two invocations never share a run ----------------------------------------------------------------

def test_a_run_is_claimed_before_anything_is_played(tmp_path: Path, capsys: Capsys,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    prepare_run_dir(tmp_path, "same")  # a concurrent invocation claimed it and is still playing
    assert (tmp_path / "same" / RUN_MARKER).is_file()
    with pytest.raises(ArenaError, match="already exists"):
        prepare_run_dir(tmp_path, "same")
    _no_play(monkeypatch)
    for command in (["match", "--scenario", "cxr-multiple-nodules", "--target", "reference/oracle"], ["demo"]):
        code, _, err = cli(capsys, *command, "--out", str(tmp_path), "--run", "same")
        assert_one_line(err, code, 2, "run 'same' already exists", "--run")


def test_concurrent_invocations_with_one_run_name_play_once(tmp_path: Path) -> None:
    args = [_arena_exe(), "match", "--scenario", "derm-changing-mole", "--target", "reference/oracle",
            "--out", str(tmp_path), "--run", "same", "--json"]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=SUB_ENV)
             for _ in range(3)]
    results = [(p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
    assert sorted(code for code, _, _ in results) == [0, 2, 2], results
    for code, _, err in results:
        if code == 2:
            assert_one_line(err, code, 2, "already exists")
    assert sorted(p.name for p in (tmp_path / "same").iterdir()) == [
        RUN_MARKER, "derm-changing-mole__reference_oracle__patient__s0.json"]


# -- S3. the write check covers the longest name that will be written -------------------------------------

def test_an_out_path_too_long_for_the_transcript_name_is_refused_first(tmp_path: Path, capsys: Capsys,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # Long enough that a transcript name (54 characters) or its temporary name no longer fits in
    # PATH_MAX, short enough that the old 31-character write check passed.
    out = deep_folder(tmp_path, 4020)
    _no_play(monkeypatch)
    code, _, err = cli(capsys, "match", "--scenario", "derm-changing-mole", "--target", "reference/oracle",
                       "--out", str(out))
    assert_one_line(err, code, 2, "--out", "name too long")


def test_transcript_names_are_bounded(library: ScenarioLibrary, cxr: Scenario) -> None:
    transcript = run(run_encounter(cxr, ScriptedClient("s", ["Nodules."]), library.image_bytes(cxr), max_turns=1))
    for changes in ({}, {"scenario_id": "x" * 64, "target": "reference/skill-0." + "3" * 300, "seed": 2**63 - 1},
                    {"scenario_id": "y" * 300, "target": "p/" + "é" * 300}):
        name = transcript_filename(transcript.model_copy(update=changes))
        assert len(name) <= MAX_OUTPUT_NAME_CHARS and name.endswith(".json"), name


# -- S4. no traceback: Ctrl-C during imports, unwritable stdout, a closed stderr --------------------------

def test_ctrl_c_while_importing_is_one_line(tmp_path: Path) -> None:
    import tomllib

    scripts = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["arena"] == "arena.entry:main"
    code = ("import sys\n"
            "class Interrupt:\n"
            "    def find_spec(self, name, *args):\n"
            "        if name == 'arena.cli':\n"
            "            raise KeyboardInterrupt\n"
            "sys.meta_path.insert(0, Interrupt())\n"
            "from arena.entry import main\n"
            "sys.exit(main())\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=SUB_ENV)
    assert (proc.returncode, proc.stderr) == (130, "arena: interrupted\n")
    heavy = ("import sys, arena, arena.entry\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'rich', 'PIL', 'langgraph')"
             " or m.startswith('arena.')))\n")
    proc = subprocess.run([sys.executable, "-c", heavy], capture_output=True, text=True, timeout=120, env=SUB_ENV)
    assert proc.stdout.strip() == "['arena.entry']", proc.stdout + proc.stderr
    from arena import ScenarioError, UsageError  # still re-exported, lazily

    assert issubclass(UsageError, ArenaError) and issubclass(ScenarioError, ArenaError)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("command", [["scenarios", "list"], ["scenarios", "list", "--json"],
                                     ["scenarios", "validate"], ["match", "--scenario", "derm-changing-mole",
                                                                 "--target", "reference/oracle", "--out", "OUT"]])
def test_an_unwritable_stdout_is_one_line(tmp_path: Path, command: list[str]) -> None:
    command = [str(tmp_path) if part == "OUT" else part for part in command]
    with open("/dev/full", "w") as full:
        proc = subprocess.run([_arena_exe(), *command], stdout=full, stderr=subprocess.PIPE, text=True,
                              timeout=300, env=SUB_ENV)
    assert (proc.returncode, proc.stderr) == (1, "arena: error: cannot write output: No space left on device\n")
    with open("/dev/full", "w") as full:
        proc = subprocess.run([_arena_exe(), *command], stdout=full, stderr=subprocess.PIPE, text=True,
                              timeout=300, env={**SUB_ENV, "ARENA_DEBUG": "1"})
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "OSError" in proc.stderr


def test_a_closed_stderr_keeps_the_exit_code() -> None:
    usage = [_arena_exe(), "match", "--scenario", "nope", "--target", "reference/oracle"]
    broken = closed_pipe()
    try:
        proc = subprocess.run(usage, stdout=subprocess.PIPE, stderr=broken, timeout=300, env=SUB_ENV)
    finally:
        os.close(broken)
    assert (proc.returncode, proc.stdout) == (2, b"")
    proc = subprocess.run(" ".join(usage) + " 2>&-", shell=True, stdout=subprocess.PIPE, timeout=300, env=SUB_ENV)
    assert (proc.returncode, proc.stdout) == (2, b"")


# -- S5. a trailing newline is no valid name ----------------------------------------------------------------

def test_a_trailing_newline_is_refused(tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_play(monkeypatch)
    code, _, err = cli(capsys, "match", "--scenario", "derm-changing-mole", "--target", "reference/oracle",
                       "--out", str(tmp_path), "--run", "abc\n")
    assert_one_line(err, code, 2, "run name 'abc\\n' is not valid")
    assert not (tmp_path / "abc\n").exists()
    for spec in ("reference/skill-0.5\n", "reference/oracle\n"):
        with pytest.raises(ArenaError, match="unknown reference model"):
            check_spec(spec)
    with pytest.raises(ValidationError):
        Scenario.model_validate(good_case("good\n"))
    # No regex of the code base ends in "$" (it accepts a final newline): validation uses fullmatch.
    import ast

    root = Path(__file__).parents[1]
    for path in [*root.glob("arena/**/*.py"), *root.glob("scenarios/**/*.py"), *root.glob("agents/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "re"
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                assert not node.args[0].value.endswith("$"), f"{path}:{node.lineno}"


# -- S6. --image and --image-dir are checked before any record is read ----------------------------------------

@pytest.mark.parametrize("kind", ["missing", "directory", "fifo", "dev-zero", "text"])
def test_a_bad_pair_image_is_one_usage_error(tmp_path: Path, capsys: Capsys, kind: str) -> None:
    image = {"missing": tmp_path / "nope.png", "directory": tmp_path, "fifo": tmp_path / "fifo.png",
             "dev-zero": Path("/dev/zero"), "text": tmp_path / "notes.png"}[kind]
    if kind == "fifo":
        os.mkfifo(image)
    if kind == "text":
        image.write_text("not an image")
    records = [osce() for _ in range(3)]
    for record in records:
        del record["image_path"]
    source = write_records(tmp_path / "records.jsonl", records)
    code, _, err = cli(capsys, "scenarios", "import", "agentclinic", str(source), "--out", str(tmp_path / "lib"),
                       "--image", str(image))
    assert_one_line(err, code, 2, "--image")
    assert not (tmp_path / "lib").exists()


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_a_bad_image_dir_is_one_usage_error(tmp_path: Path, capsys: Capsys, kind: str) -> None:
    folder = tmp_path / ("nope" if kind == "missing" else "a-file")
    if kind == "file":
        folder.write_text("x")
    source = write_records(tmp_path / "records.jsonl", [nejm(image_url="https://example.org/rash.png")])
    code, _, err = cli(capsys, "scenarios", "import", "agentclinic", str(source), "--out", str(tmp_path / "lib"),
                       "--image-dir", str(folder))
    assert_one_line(err, code, 2, "--image-dir", "does not exist" if kind == "missing" else "is not a folder")


# -- S7. a racing identical image is no conflict; --overwrite is never suggested when given ----------------

def test_an_identical_image_written_meanwhile_is_fine(tmp_path: Path, capsys: Capsys,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import scenarios.importers.agentclinic as importer

    (tmp_path / "xray.png").write_bytes(image_bytes("PNG"))
    source = write_records(tmp_path / "records.jsonl", [osce()])
    out = tmp_path / "lib"
    assert _import(capsys, source, out)[0] == 0
    image = next((out / "images" / "imported").iterdir())
    image.unlink()  # as if this import ran first and another one writes the same image right now
    real = importer.atomic_write

    def racing(path: Path, data: bytes | str, *, overwrite: bool = True) -> None:
        if path == image and not path.exists():
            real(path, data, overwrite=False)  # the concurrent import's write
        real(path, data, overwrite=overwrite)

    monkeypatch.setattr(importer, "atomic_write", racing)
    code, report = _import(capsys, source, out, "--overwrite")
    assert code == 0 and len(report["imported"]) == 1, report  # type: ignore[arg-type]
    assert validate_paths([out]) == (1, [])
    image.write_bytes(image_bytes("PNG", (64, 64)))  # now a different image of that name
    code, report = _import(capsys, source, out, "--overwrite")
    reason = report["refused"][0]["reason"]  # type: ignore[index]
    assert "exists with other content" in reason and "--overwrite" not in reason


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


# -- S9. invisible format characters are made visible ----------------------------------------------------------

def test_every_format_character_is_neutralised() -> None:
    import unicodedata

    from arena.terminal import make_console, neutralise

    listed = "\U000e0001\U000e0041\U000e007f\u180e\ufff9\ufffb\u206a\u206f\U000e0100"
    formats = "".join(chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cf")
    for text in (listed, formats):
        shown = neutralise(text)
        assert not any(unicodedata.category(c) == "Cf" for c in shown) and "\U000e0100" not in shown
    assert neutralise("\U000e0041") == "<U+E0041>"
    ordinary = "Café naïve Ünïcödé — “quoted” 日本語 한국어 العربية Ελληνικά\ttab"
    assert neutralise(ordinary) == ordinary
    console = make_console(width=120)
    with console.capture() as capture:
        console.print(f"title{listed}")
    assert not any(c in capture.get() for c in listed)


# -- S10. a closed pipe exits 141, tables and JSON alike ---------------------------------------------------------

def test_a_closed_pipe_exits_141(tmp_path: Path) -> None:
    commands = [["scenarios", "validate"], ["scenarios", "list"], ["scenarios", "list", "--json"],
                ["scenarios", "show", "derm-changing-mole"], ["scenarios", "show", "derm-changing-mole", "--json"],
                ["match", "--scenario", "derm-changing-mole", "--target", "reference/oracle", "--out", str(tmp_path)]]
    for command in commands:  # tables (rich) and --json (print) alike
        broken = closed_pipe()
        try:
            proc = subprocess.run([_arena_exe(), *command], stdout=broken, stderr=subprocess.PIPE, text=True,
                                  timeout=300, env=SUB_ENV)
        finally:
            os.close(broken)
        assert (proc.returncode, proc.stderr) == (141, ""), command


# -- S11. importer data quality ------------------------------------------------------------------------------

def test_a_late_record_gets_a_valid_id(tmp_path: Path, capsys: Capsys) -> None:
    (tmp_path / "xray.png").write_bytes(image_bytes("PNG"))
    source = write_records(tmp_path / "records.jsonl", [osce()], leading_blank_lines=123_456)
    record = osce()
    record["OSCE_Examination"]["Correct_Diagnosis"] = "Community-acquired pneumonia of the right lower lobe"
    source.write_text(source.read_text() + json.dumps(record) + "\n")
    code, report = _import(capsys, source, tmp_path / "lib")
    ids = [r["id"] for r in report["imported"]]  # type: ignore[union-attr]
    assert code == 0 and len(ids) == 2 and all(len(i) <= 64 for i in ids), report
    assert ids[1].startswith("agentclinic-medqa-123458-community-acquired")


def test_an_impossible_age_is_refused(tmp_path: Path, capsys: Capsys) -> None:
    (tmp_path / "xray.png").write_bytes(image_bytes("PNG"))
    ages = ["1" * 100_000 + "-year-old male", "1111-year-old male", "150-year-old male", "58-year-old male"]
    source = write_records(tmp_path / "records.jsonl", [osce(Demographics=text) for text in ages])
    code, report = _import(capsys, source, tmp_path / "lib")
    reasons = [r["reason"] for r in report["refused"]]  # type: ignore[union-attr]
    assert code == 0 and [r["line"] for r in report["imported"]] == [4], report  # type: ignore[index]
    assert len(reasons) == 3 and "cannot read age and sex" in reasons[0] and "cannot read age and sex" in reasons[1]
    assert "patient.age: Input should be less than or equal to 120" in reasons[2], reasons


@pytest.mark.parametrize("value", [True, 1.5e300, 7])
def test_a_diagnosis_must_be_text(tmp_path: Path, capsys: Capsys, value: object) -> None:
    (tmp_path / "xray.png").write_bytes(image_bytes("PNG"))
    (tmp_path / "rash.png").write_bytes(image_bytes("PNG"))
    record = osce()
    record["OSCE_Examination"]["Correct_Diagnosis"] = value
    answers = [{"text": value, "correct": True}, {"text": "Eczema", "correct": False}]
    source = write_records(tmp_path / "records.jsonl", [record, nejm(answers=answers)])
    code, report = _import(capsys, source, tmp_path / "lib")
    reasons = [r["reason"] for r in report["refused"]]  # type: ignore[union-attr]
    assert code == 1 and len(reasons) == 2 and all("must be a string" in r for r in reasons), reasons


def test_an_answer_without_letters_is_refused_cleanly(tmp_path: Path, capsys: Capsys) -> None:
    (tmp_path / "rash.png").write_bytes(image_bytes("PNG"))
    (tmp_path / "xray.png").write_bytes(image_bytes("PNG"))
    medqa = osce()
    medqa["OSCE_Examination"]["Correct_Diagnosis"] = "- / -"
    source = write_records(tmp_path / "records.jsonl", [
        nejm(answers=[{"text": "---", "correct": True}, {"text": "Eczema", "correct": False}]), medqa,
        nejm(answers=[{"text": "Psoriasis", "correct": True}, {"text": "---", "correct": False}])])
    code, report = _import(capsys, source, tmp_path / "lib")
    assert code == 0 and [r["line"] for r in report["imported"]] == [3], report  # type: ignore[index]
    reasons = [r["reason"] for r in report["refused"]]  # type: ignore[union-attr]
    assert reasons == ["the correct answer '---' has no letter or digit, so it names no diagnosis",
                       "OSCE_Examination.Correct_Diagnosis '- / -' has no letter or digit, so it names no diagnosis"]
    case = ScenarioLibrary(tmp_path / "lib").get(report["imported"][0]["id"])  # type: ignore[index]
    assert case.ground_truth.differential == []  # "---" names no alternative either


def test_the_diagnosis_is_never_its_own_alternative(tmp_path: Path, capsys: Capsys) -> None:
    (tmp_path / "rash.png").write_bytes(image_bytes("PNG"))
    answers = [{"text": "Psoriasis", "correct": True}, {"text": "psoriasis", "correct": False},
               {"text": "Eczema", "correct": False}, {"text": "ECZEMA", "correct": False}]
    source = write_records(tmp_path / "records.jsonl", [nejm(answers=answers)])
    code, report = _import(capsys, source, tmp_path / "lib")
    assert code == 0, report
    case = ScenarioLibrary(tmp_path / "lib").get(report["imported"][0]["id"])  # type: ignore[index]
    assert [d.name for d in case.ground_truth.differential] == ["Eczema"]
    for differential in ([{"name": "PNEUMONIA", "probability": 0.1}],
                         [{"name": "asthma", "probability": 0.1}, {"name": "Asthma", "probability": 0.1}]):
        raw = good_case("dup-dx")
        raw["ground_truth"]["differential"] = differential
        root = make_library(tmp_path / f"lib-{len(differential)}", {"dup-dx": raw})
        _, problems = validate_paths([root])
        assert [p.field for p in problems] == [f"ground_truth.differential[{len(differential) - 1}].name"], problems
    from scenarios.library import SCENARIOS_ROOT  # the stricter schema still takes every committed case

    checked, problems = validate_paths([SCENARIOS_ROOT])
    assert checked > 20 and problems == []
    assert validate_paths([Path(__file__).parent / "data" / "broken_scenarios" / "cases" / "good.json"]) == (1, [])


def test_the_import_report_is_in_line_order(tmp_path: Path, capsys: Capsys) -> None:
    (tmp_path / "xray.png").write_bytes(image_bytes("PNG"))
    source = write_records(tmp_path / "records.jsonl", [{"bogus": 1}, osce(), {"bogus": 2}])
    code, out, _ = cli(capsys, "scenarios", "import", "agentclinic", str(source), "--out", str(tmp_path / "lib"))
    lines = [line.split(":")[0] for line in out.splitlines() if line.startswith("line ")]
    assert code == 0 and lines == ["line 1", "line 2", "line 3"], out
    code, report = _import(capsys, source, tmp_path / "lib2")
    assert [(r["line"], r["status"]) for r in report["records"]] == [  # type: ignore[union-attr]
        (1, "refused"), (2, "imported"), (3, "refused")]


# -- S12. one source image is prepared once per import -------------------------------------------------------

def test_a_shared_source_image_is_decoded_once(tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    import scenarios.importers.agentclinic as importer

    (tmp_path / "scan.tiff").write_bytes(image_bytes("TIFF"))
    records = []
    for n in range(6):
        record = osce()
        record["image_path"] = "scan.tiff"
        record["OSCE_Examination"]["Correct_Diagnosis"] = f"Pneumonia type {n}"
        records.append(record)
    records.append({**records[0], "image_path": "missing.tiff"})
    source = write_records(tmp_path / "records.jsonl", records)
    calls: list[str] = []
    real = importer.check_image_bytes

    def counting(data: bytes, **kwargs: Any) -> tuple[int, int]:
        calls.append(kwargs["where"])
        return real(data, **kwargs)

    monkeypatch.setattr(importer, "check_image_bytes", counting)
    code, report = _import(capsys, source, tmp_path / "lib")
    assert code == 0 and len(report["imported"]) == 6 and len(calls) == 1, (report, calls)  # type: ignore[arg-type]
    assert len({p.name for p in (tmp_path / "lib" / "images" / "imported").iterdir()}) == 6
    assert validate_paths([tmp_path / "lib"]) == (6, [])


# -- S13. messages that name the right thing --------------------------------------------------------------------

def test_a_run_name_that_is_a_file_names_run(tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_play(monkeypatch)
    (tmp_path / "taken").write_text("a file")
    code, _, err = cli(capsys, "match", "--scenario", "derm-changing-mole", "--target", "reference/oracle",
                       "--out", str(tmp_path), "--run", "taken")
    assert_one_line(err, code, 2, "--run taken", "is not a directory", "choose another --run name")
    assert "--out" not in err


@pytest.mark.parametrize("kind", ["dangling", "loop", "dangling-parent"])
def test_broken_symlinks_as_out_are_named(tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch,
                                          kind: str) -> None:
    _no_play(monkeypatch)
    if kind == "loop":
        (tmp_path / "a").symlink_to(tmp_path / "b")
        (tmp_path / "b").symlink_to(tmp_path / "a")
        out, needle = tmp_path / "a", "is a symlink loop"
    else:
        (tmp_path / "link").symlink_to(tmp_path / "gone")
        out = tmp_path / "link" if kind == "dangling" else tmp_path / "link" / "sub"
        needle = "is a dangling symlink"
    code, _, err = cli(capsys, "match", "--scenario", "derm-changing-mole", "--target", "reference/oracle",
                       "--out", str(out))
    assert_one_line(err, code, 2, "--out", needle)
    assert "File exists" not in err


def test_image_problems_are_the_same_on_every_run(tmp_path: Path) -> None:
    import hashlib

    data = b"\x89PNG\r\n\x1a\n"  # PIL: "cannot identify image file <_io.BytesIO object at 0x7f...>"
    case = good_case("garbled")
    case["images"][0].update(path="images/garbled.png", sha256=hashlib.sha256(data).hexdigest())
    root = make_library(tmp_path / "lib", {"garbled": case})
    (root / "images" / "garbled.png").write_bytes(data)
    first, second = validate_paths([root])[1], validate_paths([root])[1]
    assert len(first) == 1 and first == second and " at 0x" not in first[0].reason, first


def test_a_newline_in_a_file_name_stays_on_one_problem_line(tmp_path: Path, capsys: Capsys) -> None:
    root = make_library(tmp_path / "lib")
    (root / "cases" / "bad\nname.json").write_text("{")
    code, out, _ = cli(capsys, "scenarios", "validate", str(root))
    assert code == 1 and len(out.splitlines()) == 2, out  # the problem and the summary
    assert "bad␊name.json" in out


# -- S14. integer options take ASCII digits only -----------------------------------------------------------------

@pytest.mark.parametrize(("option", "value"), [("--seed", "٣"), ("--seed", "1_000"), ("--seed", " 5 "),
                                               ("--seed", "+5"), ("--seed", "-0"), ("--max-turns", "٣"),
                                               ("--max-turns", "1_0"), ("--max-turns", "\u20035")])
def test_integer_options_take_ascii_digits_only(capsys: Capsys, monkeypatch: pytest.MonkeyPatch,
                                                option: str, value: str) -> None:
    _no_play(monkeypatch)
    code, _, err = cli(capsys, "match", "--scenario", "derm-changing-mole", "--target", "reference/oracle",
                       option, value)
    assert_one_line(err, code, 2, option, "must be an integer from")
