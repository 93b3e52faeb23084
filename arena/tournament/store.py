"""The run's SQLite store: ``arena.sqlite`` in the run folder.

Tables: ``runs`` (the run's configuration), ``encounters`` (one row per played conversation, its
transcript file and image sha256s; images are never stored inline), ``verdicts`` (the absolute
scores of each encounter, one row per dimension), ``bench_cells`` (which encounters an ``arena bench`` run
recorded, in order, and their ablation), ``scheduled`` (what the scheduler asked for, so a
resumed run finishes a batch before asking for the next), ``matches`` and ``rating_snapshots``.

WAL journal, one connection, one writer (the tournament loop; matches finish in the event loop and
are written there), each match with its new encounters and verdicts written in one transaction.
A row in ``matches`` is the proof that a match is finished: ``--resume`` skips exactly those.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from pydantic import ValidationError

from arena.echo import clip, clip_path, exception_text
from arena.errors import ArenaError
from arena.schemas.calls import ImageRef
from arena.schemas.transcript import Transcript
from arena.tournament.match import MatchRecord, MatchSpec

STORE_NAME = "arena.sqlite"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    name TEXT PRIMARY KEY, created TEXT NOT NULL, config TEXT NOT NULL, arena_version TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS encounters (
    id TEXT PRIMARY KEY, model TEXT NOT NULL, scenario TEXT NOT NULL, mode TEXT NOT NULL,
    seed INTEGER NOT NULL, transcript TEXT NOT NULL, termination TEXT NOT NULL,
    infrastructure INTEGER NOT NULL, judged INTEGER NOT NULL, correct INTEGER,
    images TEXT NOT NULL, usage TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS verdicts (
    encounter_id TEXT NOT NULL REFERENCES encounters(id), judge TEXT NOT NULL, dimension TEXT NOT NULL,
    score INTEGER NOT NULL, PRIMARY KEY (encounter_id, dimension));
CREATE TABLE IF NOT EXISTS scheduled (
    id TEXT PRIMARY KEY, round INTEGER NOT NULL, seq INTEGER NOT NULL, spec TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS matches (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL, round INTEGER NOT NULL, model_a TEXT NOT NULL,
    model_b TEXT NOT NULL, scenario TEXT NOT NULL, mode TEXT NOT NULL, seed INTEGER NOT NULL,
    encounter_a TEXT NOT NULL REFERENCES encounters(id), encounter_b TEXT NOT NULL REFERENCES encounters(id),
    outcome TEXT NOT NULL CHECK (outcome IN ('A', 'B', 'tie', 'error')), record TEXT NOT NULL,
    finished TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bench_cells (
    encounter_id TEXT PRIMARY KEY REFERENCES encounters(id), seq INTEGER NOT NULL, ablation TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rating_snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created TEXT NOT NULL, matches INTEGER NOT NULL,
    leaderboard TEXT NOT NULL);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def encounter_correct(transcript: Transcript) -> bool | None:
    """Whether the last assessed target answer names the true diagnosis (None if none was assessed)."""
    assessed = [t.assessment for t in transcript.target_turns() if t.assessment is not None]
    return assessed[-1].diagnosis_correct if assessed else None


def image_hashes(transcript: Transcript) -> set[str]:
    """sha256 of every image's bytes as sent in the encounter's recorded calls."""
    return {part.sha256 for call in transcript.calls for msg in call.request.messages for part in msg.parts
            if isinstance(part, ImageRef)}


P = ParamSpec("P")
R = TypeVar("R")


def _guarded(method: Callable[Concatenate[Store, P], R]) -> Callable[Concatenate[Store, P], R]:
    """A damaged store (SQLite errors, rows that are not what this arena wrote) is one ``ArenaError``
    naming the file, never a traceback."""

    @functools.wraps(method)
    def wrapper(self: Store, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise ArenaError(f"store {clip_path(self.path)} is damaged or unreadable: {exception_text(exc)}") from None
        except (ValidationError, ValueError, TypeError, KeyError) as exc:
            raise ArenaError(f"store {clip_path(self.path)} holds a record this arena did not write: "
                             f"{clip(str(exc).splitlines()[0], 200)}") from None

    return wrapper


class Store:
    """One run's store. Not thread-safe by design: the one writer is the tournament loop.
    ``read_only`` opens it without writing anything (``arena leaderboard``, ``arena export``)."""

    def __init__(self, path: Path, *, create: bool = False, read_only: bool = False) -> None:
        if not create and not path.is_file():
            raise ArenaError(f"{clip_path(path)} is not a tournament store (no {STORE_NAME})")
        self.path = path
        try:
            if read_only:
                self._db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
                                           timeout=30.0)
            else:
                self._db = sqlite3.connect(path, isolation_level=None, timeout=30.0)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            if create:
                self._db.executescript(_SCHEMA)
                self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            version = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.Error as exc:
            raise ArenaError(f"cannot use the store {clip_path(path)}: {exception_text(exc)}") from None
        if version is None or version[0] != str(SCHEMA_VERSION):
            raise ArenaError(f"{clip_path(path)}: unknown store schema version {version[0] if version else None!r}; "
                             f"this arena reads version {SCHEMA_VERSION}")

    def close(self) -> None:
        self._db.close()

    # -- run --------------------------------------------------------------------------------

    @_guarded
    def init_run(self, name: str, config: dict[str, Any], version: str) -> None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT INTO runs VALUES (?, ?, ?, ?)", (name, _now(), json.dumps(config), version))

    @_guarded
    def run_config(self) -> tuple[str, dict[str, Any]]:
        row = self._db.execute("SELECT name, config FROM runs").fetchone()
        if row is None:
            raise ArenaError(f"{clip_path(self.path)} holds no run (it was never started)")
        return row[0], json.loads(row[1])

    # -- schedule ---------------------------------------------------------------------------

    @_guarded
    def schedule(self, specs: Sequence[MatchSpec], round_: int) -> None:
        """Record a batch before it is played (already scheduled ids are kept as they are)."""
        start = self._db.execute("SELECT COALESCE(MAX(seq), -1) + 1 FROM scheduled").fetchone()[0]
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT OR IGNORE INTO scheduled VALUES (?, ?, ?, ?)",
                                 [(s.id, round_, start + i, s.model_dump_json()) for i, s in enumerate(specs)])

    @_guarded
    def scheduled(self) -> list[tuple[int, MatchSpec]]:
        rows = self._db.execute("SELECT round, spec FROM scheduled ORDER BY seq").fetchall()
        return [(r, MatchSpec.model_validate_json(s)) for r, s in rows]

    @_guarded
    def unfinished(self) -> list[tuple[int, MatchSpec]]:
        """Scheduled and not recorded. A row whose id is not its spec's (a store edited by hand) is refused."""
        rows = self._db.execute("SELECT s.id, s.round, s.spec FROM scheduled s LEFT JOIN matches m ON m.id = s.id "
                                "WHERE m.id IS NULL ORDER BY s.seq").fetchall()
        out = []
        for match_id, round_, raw in rows:
            spec = MatchSpec.model_validate_json(raw)
            if spec.id != match_id:
                raise ValueError(f"scheduled match {match_id} is not the id of its spec ({spec.id})")
            out.append((round_, spec))
        return out

    # -- encounters and matches ---------------------------------------------------------------

    @_guarded
    def encounter_file(self, encounter_id: str) -> str | None:
        row = self._db.execute("SELECT transcript FROM encounters WHERE id = ?", (encounter_id,)).fetchone()
        return row[0] if row else None

    def _insert_encounter(self, transcript: Transcript, file: str) -> None:
        if self._db.execute("SELECT 1 FROM encounters WHERE id = ?", (transcript.encounter_id,)).fetchone():
            return
        images = sorted(image_hashes(transcript))
        correct = encounter_correct(transcript)
        self._db.execute(
            "INSERT INTO encounters VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (transcript.encounter_id, transcript.target, transcript.scenario_id, transcript.mode.value,
             transcript.seed, file, transcript.termination.value, int(transcript.termination.is_infrastructure),
             int(transcript.verdict is not None), None if correct is None else int(correct), json.dumps(images),
             transcript.usage.model_dump_json() if transcript.usage else "{}", _now()))
        if transcript.verdict is not None:
            self._db.executemany("INSERT INTO verdicts VALUES (?, ?, ?, ?)",
                                 [(transcript.encounter_id, transcript.verdict.judge, d.value, s.score)
                                  for d, s in transcript.verdict.scores.items()])

    @_guarded
    def record_match(self, record: MatchRecord, encounters: Iterable[tuple[Transcript, str]]) -> bool:
        """Write the match and its encounters (those not stored yet) in one transaction. False if the
        match was already recorded (nothing is written twice)."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            if self._db.execute("SELECT 1 FROM matches WHERE id = ?", (record.id,)).fetchone():
                return False
            for transcript, file in encounters:
                self._insert_encounter(transcript, file)
            seq = self._db.execute("SELECT COUNT(*) FROM matches").fetchone()[0]
            s = record.spec
            self._db.execute("INSERT INTO matches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (record.id, seq, record.round, s.model_a, s.model_b, s.scenario_id, s.mode.value, s.seed,
                              record.encounter_a, record.encounter_b, record.outcome, record.model_dump_json(),
                              record.finished_at.isoformat()))
        return True

    @_guarded
    def forget_infrastructure_errors(self) -> tuple[int, list[str]]:
        """For a resume: delete the matches that ended with an infrastructure error (so they are played
        again) and the failed encounters no other match needs; returns how many matches and the
        failed encounters' transcript files (the caller sets them aside)."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            n = self._db.execute("DELETE FROM matches WHERE outcome = 'error' AND "
                                 "json_extract(record, '$.error_kind') = 'infrastructure'").rowcount
            keep = "SELECT encounter_a FROM matches UNION SELECT encounter_b FROM matches"
            files = [r[0] for r in self._db.execute(
                f"SELECT transcript FROM encounters WHERE infrastructure = 1 AND id NOT IN ({keep})")]
            self._db.execute(f"DELETE FROM verdicts WHERE encounter_id IN (SELECT id FROM encounters WHERE "
                             f"infrastructure = 1 AND id NOT IN ({keep}))")
            self._db.execute(f"DELETE FROM encounters WHERE infrastructure = 1 AND id NOT IN ({keep})")
        return n, files

    @_guarded
    def matches(self, *, scheduled_order: bool = False) -> list[MatchRecord]:
        """Finished matches in the order they finished, or in the order they were scheduled (the
        same in every run of the same settings, whatever the concurrency or an interruption)."""
        query = ("SELECT m.record FROM matches m LEFT JOIN scheduled s ON s.id = m.id ORDER BY s.seq, m.seq"
                 if scheduled_order else "SELECT record FROM matches ORDER BY seq")
        rows = self._db.execute(query).fetchall()
        return [MatchRecord.model_validate_json(r[0]) for r in rows]

    @_guarded
    def match_ids(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT id FROM matches ORDER BY seq")]

    @_guarded
    def encounters(self) -> list[dict[str, Any]]:
        """Every stored encounter with its scores (``scores`` empty when it was not judged)."""
        cols = ["id", "model", "scenario", "mode", "seed", "transcript", "termination", "infrastructure", "judged",
                "correct"]
        rows = [dict(zip(cols, r, strict=True)) for r in self._db.execute(
            f"SELECT {', '.join(cols)} FROM encounters ORDER BY rowid")]
        scores: dict[str, dict[str, int]] = {}
        for enc, dim, score in self._db.execute("SELECT encounter_id, dimension, score FROM verdicts"):
            scores.setdefault(enc, {})[dim] = score
        for row in rows:
            row["scores"] = scores.get(row["id"], {})
            row["correct"] = None if row["correct"] is None else bool(row["correct"])
        return rows

    # -- benchmark cells (arena bench) --------------------------------------------------------

    @_guarded
    def record_cell(self, transcript: Transcript, file: str, seq: int) -> bool:
        """The encounter, its verdict and its benchmark cell in one transaction; False if it was recorded."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            if self._db.execute("SELECT 1 FROM bench_cells WHERE encounter_id = ?",
                                (transcript.encounter_id,)).fetchone():
                return False
            self._insert_encounter(transcript, file)
            self._db.execute("INSERT INTO bench_cells VALUES (?, ?, ?)",
                             (transcript.encounter_id, seq, transcript.ablation or ""))
        return True

    @_guarded
    def cells(self) -> list[dict[str, Any]]:
        """Every recorded cell: its encounter row (as :meth:`encounters`) and its ``ablation`` (None: full)."""
        ablations = {enc: ab or None for enc, ab in self._db.execute(
            "SELECT encounter_id, ablation FROM bench_cells ORDER BY seq")}
        rows = [e for e in self.encounters() if e["id"] in ablations]
        order = {enc: i for i, enc in enumerate(ablations)}
        rows.sort(key=lambda e: order[e["id"]])
        for row in rows:
            row["ablation"] = ablations[row["id"]]
        return rows

    @_guarded
    def forget_infrastructure_cells(self) -> tuple[int, list[str]]:
        """``--resume``: cells that ended with an infrastructure error are dropped (played again);
        returns how many and their transcript files (the caller sets them aside)."""
        rows = self._db.execute("SELECT e.id, e.transcript FROM encounters e JOIN bench_cells c "
                                "ON c.encounter_id = e.id WHERE e.infrastructure = 1").fetchall()
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            for enc, _ in rows:
                self._db.execute("DELETE FROM bench_cells WHERE encounter_id = ?", (enc,))
                self._db.execute("DELETE FROM verdicts WHERE encounter_id = ?", (enc,))
                self._db.execute("DELETE FROM encounters WHERE id = ?", (enc,))
        return len(rows), [f for _, f in rows]

    # -- ratings ----------------------------------------------------------------------------

    @_guarded
    def snapshot(self, leaderboard: dict[str, Any]) -> None:
        n = self._db.execute("SELECT COUNT(*) FROM matches").fetchone()[0]
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT INTO rating_snapshots (created, matches, leaderboard) VALUES (?, ?, ?)",
                             (_now(), n, json.dumps(leaderboard)))

    @_guarded
    def integrity(self) -> str:
        return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])
