"""Crash recovery: a real ``arena tournament`` subprocess killed with SIGKILL at several random
points (seeded), resumed each time, ends exactly as an uninterrupted run: zero lost and zero
duplicated matches, an intact SQLite store, and never a half-written transcript file."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from arena.tournament.store import STORE_NAME, Store
from tests.hostile_fixtures import SUB_ENV, arena_exe

MODELS = "reference/oracle,reference/skill-0.3,reference/skill-0.6,reference/skill-0.9"
KILLS = 5


def _whole_files_only(folder: Path) -> None:
    for path in folder.glob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))  # atomic writes: a file is whole or absent


def _ids(store_path: Path) -> list[str]:
    if not store_path.is_file():
        return []
    try:
        with sqlite3.connect(f"{store_path.as_uri()}?mode=ro", uri=True, timeout=1) as db:
            return [r[0] for r in db.execute("SELECT id FROM matches")]
    except sqlite3.Error:  # not created yet, or mid-creation
        return []


def _recorded(store_path: Path) -> int:
    return len(_ids(store_path))


def test_kill_9_at_random_points_then_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    args = [arena_exe(), "tournament", "--models", MODELS, "--scenarios", "starter", "--seeds", "8", "--seed", "3",
            "--concurrency", "3", "--bootstrap", "200", "--out", str(tmp_path), "--json"]
    whole = subprocess.run([*args, "--run", "whole"], capture_output=True, text=True, env=SUB_ENV, timeout=600)
    assert whole.returncode == 0, whole.stderr
    expected = sorted(Store(tmp_path / "whole" / STORE_NAME, read_only=True).match_ids())
    assert len(expected) == 6 * 4 * 8

    rng = random.Random(20261202)
    targets = sorted(rng.sample(range(1, len(expected) - 1), KILLS - 1))  # matches recorded when killed
    folder, store_path = tmp_path / "crashed", tmp_path / "crashed" / STORE_NAME
    kills = []
    for k in range(KILLS):
        started = store_path.is_file() and Store(store_path, read_only=True).run_config()
        command = [arena_exe(), "tournament", "--run", "crashed", "--out", str(tmp_path), "--resume", "--json"] \
            if started else [*args, "--run", "crashed"]
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=SUB_ENV)
        if k == 0:  # the first lands in start-up, at a random instant
            time.sleep(rng.uniform(0.05, 1.0))
        else:
            deadline = time.monotonic() + 300
            while proc.poll() is None and time.monotonic() < deadline and _recorded(store_path) < targets[k - 1]:
                time.sleep(0.005)
        assert proc.poll() is None, "the tournament ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        if folder.exists():
            _whole_files_only(folder)
        if store_path.is_file():
            with sqlite3.connect(store_path) as db:
                assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        recorded = _recorded(store_path)
        ids = _ids(store_path)
        assert len(ids) == len(set(ids)) == recorded and set(ids) <= set(expected)
        kills.append(recorded)
    assert kills[0] < len(expected) and all(0 < n < len(expected) for n in kills[1:]), kills

    started = store_path.is_file() and Store(store_path, read_only=True).run_config()
    final = subprocess.run([arena_exe(), "tournament", "--run", "crashed", "--out", str(tmp_path), "--resume",
                            "--json"] if started else [*args, "--run", "crashed"],
                           capture_output=True, text=True, env=SUB_ENV, timeout=600)
    assert final.returncode == 0, final.stderr
    store = Store(store_path, read_only=True)
    ids = store.match_ids()
    assert len(ids) == len(set(ids)) and sorted(ids) == expected  # zero lost, zero duplicated
    assert store.integrity() == "ok"
    assert len(store.encounters()) == 4 * 4 * 8 == len(list(folder.glob("*__s*.json")))
    assert not list(folder.glob(".*.tmp"))
    _whole_files_only(folder)
    assert json.loads(final.stdout)["models"] == json.loads(whole.stdout)["models"]


def test_a_run_killed_before_it_recorded_its_settings_can_be_started_again(tmp_path: Path) -> None:
    """The narrow window between claiming the folder and recording the settings: the folder holds
    only its marker and an empty store, and a new start reclaims it (a real run never is)."""
    folder = tmp_path / "stillborn"
    folder.mkdir()
    (folder / ".arena-run").write_text('{"run": "stillborn", "pid": 1}\n')
    sqlite3.connect(folder / STORE_NAME).close()  # created, never written
    args = [arena_exe(), "tournament", "--models", "reference/oracle,reference/blind", "--scenarios",
            "cxr-multiple-nodules", "--out", str(tmp_path), "--run", "stillborn", "--json"]
    done = subprocess.run(args, capture_output=True, text=True, env=SUB_ENV, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["matches"]["finished"] == 1
    again = subprocess.run(args, capture_output=True, text=True, env=SUB_ENV, timeout=300)
    assert again.returncode == 2 and "already exists" in again.stderr  # a real run is never reclaimed
