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

import pytest
from pydantic import ValidationError

from arena.clients.scripted import ScriptedClient
from arena.encounter.run import run_encounter
from arena.errors import ArenaError
from arena.files import FileRefused, atomic_write, load_json_file, read_regular_file
from arena.limits import MAX_ANSWER_CHARS, MAX_PHRASES_PER_LIST
from arena.runner import save_transcript
from arena.schemas.messages import ImagePart
from arena.schemas.scenario import Scenario
from arena.schemas.transcript import TerminationReason
from arena.schemas.verdict import DimensionScore
from scenarios.library import ScenarioLibrary, validate_paths
from tests.conftest import run
from tests.hostile_fixtures import (
    assert_one_line,
    cli,
    good_case,
    image_bytes,
    make_library,
    nejm,
    osce,
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
