"""Hostile input (issue 6), part of the hardening suite: Outputs: checked before any work, claimed atomically, never overwritten, never a traceback.

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
from pathlib import Path

import pytest

from arena.clients.scripted import ScriptedClient
from arena.composition import run_encounter
from arena.errors import ArenaError
from arena.files import atomic_write
from arena.limits import (
    MAX_OUTPUT_NAME_CHARS,
)
from arena.runner import RUN_MARKER, prepare_run_dir, save_transcript, transcript_filename
from arena.schemas.scenario import Scenario
from scenarios.library import ScenarioLibrary
from tests.conftest import run
from tests.hostile_fixtures import (
    SUB_ENV,
    Capsys,
    arena_exe,
    assert_one_line,
    cli,
    closed_pipe,
    deep_folder,
    forbid_playing,
)

# -- 6. outputs checked before any work; 7. unique temporary files ----------------------------------




@pytest.mark.parametrize("kind", ["file", "too-long", "proc", "read-only"])
def test_unwritable_out_is_refused_before_playing(tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch,
                                                  kind: str) -> None:
    forbid_playing(monkeypatch)
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


# -- S2. two invocations never share a run ----------------------------------------------------------------

def test_a_run_is_claimed_before_anything_is_played(tmp_path: Path, capsys: Capsys,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    prepare_run_dir(tmp_path, "same")  # a concurrent invocation claimed it and is still playing
    assert (tmp_path / "same" / RUN_MARKER).is_file()
    with pytest.raises(ArenaError, match="already exists"):
        prepare_run_dir(tmp_path, "same")
    forbid_playing(monkeypatch)
    for command in (["match", "--scenario", "cxr-multiple-nodules", "--target", "reference/oracle"], ["demo"]):
        code, _, err = cli(capsys, *command, "--out", str(tmp_path), "--run", "same")
        assert_one_line(err, code, 2, "run 'same' already exists", "--run")


def test_concurrent_invocations_with_one_run_name_play_once(tmp_path: Path) -> None:
    args = [arena_exe(), "match", "--scenario", "derm-changing-mole", "--target", "reference/oracle",
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
    forbid_playing(monkeypatch)
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
            "sys.argv = ['arena', 'scenarios', 'list']  # a command: the CLI is imported (not the quick path)\n"
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
        proc = subprocess.run([arena_exe(), *command], stdout=full, stderr=subprocess.PIPE, text=True,
                              timeout=300, env=SUB_ENV)
    assert (proc.returncode, proc.stderr) == (1, "arena: error: cannot write output: No space left on device\n")
    with open("/dev/full", "w") as full:
        proc = subprocess.run([arena_exe(), *command], stdout=full, stderr=subprocess.PIPE, text=True,
                              timeout=300, env={**SUB_ENV, "ARENA_DEBUG": "1"})
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "OSError" in proc.stderr


def test_a_closed_stderr_keeps_the_exit_code() -> None:
    usage = [arena_exe(), "match", "--scenario", "nope", "--target", "reference/oracle"]
    broken = closed_pipe()
    try:
        proc = subprocess.run(usage, stdout=subprocess.PIPE, stderr=broken, timeout=300, env=SUB_ENV)
    finally:
        os.close(broken)
    assert (proc.returncode, proc.stdout) == (2, b"")
    proc = subprocess.run(" ".join(usage) + " 2>&-", shell=True, stdout=subprocess.PIPE, timeout=300, env=SUB_ENV)
    assert (proc.returncode, proc.stdout) == (2, b"")
