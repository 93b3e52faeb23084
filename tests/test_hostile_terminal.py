"""Hostile input (issue 6), part of the hardening suite: What reaches the terminal: neutralised, never markup, bounded, and the right names.

Every case asserts a one-line error (exit 2 for usage, 1 for an invalid file) or safe handling,
with no traceback and nothing lost.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from arena.clients.scripted import ScriptedClient
from arena.composition import run_encounter
from arena.limits import (
    MAX_ECHO_CHARS,
    MAX_PROBLEMS_PER_FILE,
)
from arena.schemas.scenario import Scenario
from scenarios.library import ScenarioLibrary, validate_paths
from tests.conftest import run
from tests.hostile_fixtures import (
    PAYLOAD,
    SUB_ENV,
    Capsys,
    arena_exe,
    assert_inert,
    assert_one_line,
    cli,
    closed_pipe,
    forbid_playing,
    good_case,
    import_records,
    make_library,
    nejm,
    write_records,
)

# -- 8. terminal injection; 9. markup in user and case text -------------------------------------------







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
    assert_inert(out)
    assert "[/i]" in out
    code, out, err = cli(capsys, "scenarios", "validate", str(root / "cases" / "hostile-text.json"))
    assert code == 0 and "lib[/bold]" not in err
    assert_inert(out)
    code, _, err = cli(capsys, "match", "--scenario", f"x{PAYLOAD}", "--target", "reference/oracle")
    assert_one_line(err, code, 2, "unknown scenario")
    assert_inert(err)


def test_json_output_escapes_every_control(tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    case = good_case("hostile-json", title=f"T {PAYLOAD}")
    root = make_library(tmp_path / "lib", {"hostile-json": case})
    monkeypatch.setattr("arena.cli_scenarios.ScenarioLibrary", lambda: ScenarioLibrary(root))
    code, out, _ = cli(capsys, "scenarios", "show", "hostile-json", "--json")
    assert code == 0 and out.isascii()
    assert json.loads(out)["title"] == f"T {PAYLOAD}"  # escaped, not lost
    code, out, _ = cli(capsys, "scenarios", "show", "hostile-json")
    assert code == 0
    assert_inert(out)


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
    code, report = import_records(capsys, source, tmp_path / "lib")
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
            proc = subprocess.run([arena_exe(), *command], stdout=broken, stderr=subprocess.PIPE, text=True,
                                  timeout=300, env=SUB_ENV)
        finally:
            os.close(broken)
        assert (proc.returncode, proc.stderr) == (141, ""), command


# -- S13. messages that name the right thing --------------------------------------------------------------------

def test_a_run_name_that_is_a_file_names_run(tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    forbid_playing(monkeypatch)
    (tmp_path / "taken").write_text("a file")
    code, _, err = cli(capsys, "match", "--scenario", "derm-changing-mole", "--target", "reference/oracle",
                       "--out", str(tmp_path), "--run", "taken")
    assert_one_line(err, code, 2, "--run taken", "is not a directory", "choose another --run name")
    assert "--out" not in err


@pytest.mark.parametrize("kind", ["dangling", "loop", "dangling-parent"])
def test_broken_symlinks_as_out_are_named(tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch,
                                          kind: str) -> None:
    forbid_playing(monkeypatch)
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
