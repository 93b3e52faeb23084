"""Hostile input (issue 6), part of the hardening suite: Targets that fail and command-line rough edges.

Every case asserts a one-line error (exit 2 for usage, 1 for an invalid file) or safe handling,
with no traceback and nothing lost.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from arena.clients.scripted import ScriptedClient
from arena.composition import DEMO_MODELS, registry, run_encounter
from arena.errors import ArenaError
from arena.runner import save_transcript
from arena.schemas.messages import ModelRequest, ModelResponse
from arena.schemas.scenario import Scenario
from arena.schemas.transcript import TerminationReason
from scenarios.library import ScenarioLibrary
from tests.conftest import run
from tests.helpers import no_wait_gateway
from tests.hostile_fixtures import (
    Capsys,
    assert_one_line,
    cli,
    forbid_playing,
    good_case,
)

# -- 5. target failures end as recorded infrastructure errors, never a crash ------------------------

class _Raising:
    name = "hostile/raiser"
    supports_images = True

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
        self.calls = 0

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.calls += 1
        raise self.exc


@pytest.mark.parametrize(("exc", "attempts"), [(RuntimeError("boom"), 1), (TimeoutError("slow"), 3),
                                               (ConnectionResetError("reset"), 3), (ValueError("bad"), 1)])
def test_a_raising_target_is_a_recorded_target_error(library: ScenarioLibrary, cxr: Scenario, tmp_path: Path,
                                                     exc: BaseException, attempts: int) -> None:
    client = _Raising(exc)
    transcript = run(run_encounter(cxr, client, library.image_bytes(cxr), retries=2, gateway=no_wait_gateway()))
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
    table = [line for line in out.splitlines() if line.startswith("│ reference/")]  # scores, then calibration
    assert len(table) == 2 * len(DEMO_MODELS) and {line.split("│")[1].strip() for line in table} == set(DEMO_MODELS)
    assert all(len(line) <= 80 for line in out.splitlines() if "│" in line)
    code, out, _ = cli(capsys, "scenarios", "list")
    ids = {line.split("│")[1].strip() for line in out.splitlines() if line.startswith("│ ")} - {""}
    assert ScenarioLibrary().ids() == sorted(ids)


# == Second sweep (issue 6): one test per problem found ==================================================






# -- S5. a trailing newline is no valid name ----------------------------------------------------------------

def test_a_trailing_newline_is_refused(tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    forbid_playing(monkeypatch)
    code, _, err = cli(capsys, "match", "--scenario", "derm-changing-mole", "--target", "reference/oracle",
                       "--out", str(tmp_path), "--run", "abc\n")
    assert_one_line(err, code, 2, "run name 'abc\\n' is not valid")
    assert not (tmp_path / "abc\n").exists()
    for spec in ("reference/skill-0.5\n", "reference/oracle\n"):
        with pytest.raises(ArenaError, match="unknown reference model"):
            registry().check(spec)
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


# -- S14. integer options take ASCII digits only -----------------------------------------------------------------

@pytest.mark.parametrize(("option", "value"), [("--seed", "٣"), ("--seed", "1_000"), ("--seed", " 5 "),
                                               ("--seed", "+5"), ("--seed", "-0"), ("--max-turns", "٣"),
                                               ("--max-turns", "1_0"), ("--max-turns", "\u20035")])
def test_integer_options_take_ascii_digits_only(capsys: Capsys, monkeypatch: pytest.MonkeyPatch,
                                                option: str, value: str) -> None:
    forbid_playing(monkeypatch)
    code, _, err = cli(capsys, "match", "--scenario", "derm-changing-mole", "--target", "reference/oracle",
                       option, value)
    assert_one_line(err, code, 2, option, "must be an integer from")
