"""The tournament loop: validate everything, claim (or reopen) the run, then schedule a batch,
record it before playing, execute it, write each finished match in one transaction, and repeat
until the scheduler has nothing left; then write ``leaderboard.json`` and a rating snapshot.

Resuming: the run's settings come from its store; matches scheduled but not recorded are played
first (a match id is derived from what it plays, so nothing is played twice and nothing is
skipped), then the scheduler continues from every finished match. The run folder is locked
(``flock`` on its marker) while a tournament runs in it: a second invocation is refused.
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from arena import composition
from arena.cli_models import models_config
from arena.cli_parser import version
from arena.composition import Cast, build_cast, build_pairwise_judge, check_specs, with_base_url
from arena.config import ModelsConfig
from arena.echo import clip, clip_path, exception_text, quoted
from arena.encounter.clock import Clock
from arena.errors import ArenaError, UsageError
from arena.faults import FaultPlan
from arena.files import atomic_write
from arena.judging.pairwise import PairwiseJudge
from arena.runner import RUN_MARKER, check_run_name, new_run_name, prepare_run_dir, transcript_name
from arena.schemas.calls import UsageSummary
from arena.schemas.scenario import Mode
from arena.terminal import dumps_json
from arena.tournament.config import (
    DEFAULT_OUT,
    IDENTITY,
    RunSettings,
    S,
    TournamentSettings,
    load_file,
    problem,
    settings,
    slots,
)
from arena.tournament.executor import Executor, LocalExecutor
from arena.tournament.match import MatchRecord
from arena.tournament.play import MatchPlayer, MatchResult, set_aside
from arena.tournament.schedule import Scheduler, make_scheduler
from arena.tournament.standings import leaderboard, subgroups_of
from arena.tournament.store import STORE_NAME, Store
from scenarios.library import SCENARIOS_ROOT, ScenarioLibrary

LEADERBOARD_NAME = "leaderboard.json"


@dataclass
class Progress:
    """What the progress display shows; ``update`` is called after every recorded match."""

    total: int
    done: int = 0
    errors: int = 0
    usage: UsageSummary = field(default_factory=UsageSummary)
    started: float = field(default_factory=time.monotonic)
    played_here: int = 0

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.played_here / elapsed if elapsed > 0 else 0.0


@dataclass
class Tournament:
    """A validated, claimed tournament, ready to run (see :func:`prepare`)."""

    settings: TournamentSettings
    run: str
    run_dir: Path
    store: Store
    library: ScenarioLibrary
    cast: Cast
    scheduler: Scheduler
    player: MatchPlayer
    executor: Executor
    lock: IO[bytes]
    retried: int = 0  # infrastructure-error matches a resume forgot, to play them again

    def close(self) -> None:
        self.cast.close()
        self.store.close()
        self.lock.close()


def lock_run(run_dir: Path, run: str) -> IO[bytes]:
    try:
        handle = open(run_dir / RUN_MARKER, "rb")  # noqa: SIM115 - held for the tournament's life
    except OSError as exc:
        raise UsageError(f"run {quoted(run)}: cannot open its marker {RUN_MARKER} ({exception_text(exc)})") from None
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise UsageError(f"run {quoted(run)} is in use by another arena process; wait for it or stop it") from None
    return handle


MUTABLE = ("concurrency", "models_file", "base_url", "out", "faults")  # what a resume may change


def resume_settings(stored: dict[str, Any], given: dict[str, Any], run: str,
                    model: type[Any] = TournamentSettings, identity: tuple[str, ...] = IDENTITY,
                    mutable: tuple[str, ...] = MUTABLE) -> dict[str, Any]:
    """The stored identity, with the options that may change (concurrency, where models and runs
    live); a given option that contradicts the stored run is refused. ``model`` and ``identity``:
    the settings' type and its identity keys (a tournament's by default, a benchmark's too)."""
    for key in identity:
        value = given.get(key)
        if value is None:
            continue
        try:
            normal = model.model_validate({**stored, key: value}).identity()[key]
        except ValidationError as exc:
            raise UsageError(f"--resume: {problem(exc)}") from None
        if normal != stored.get(key):
            was, now = clip(json.dumps(stored.get(key))), clip(json.dumps(normal))
            raise UsageError(f"--resume: run {quoted(run)} was started with {key} = {was}, not {now}; resume "
                             "without that option or start a new run")
    merged = dict(stored)
    for key in mutable:
        if given.get(key) is not None:
            merged[key] = given[key]
    return merged


def _given(flags: dict[str, Any], config_file: Path | None) -> dict[str, Any]:
    """The options given: the ``--config`` file's, then the flags over them."""
    values = load_file(config_file) if config_file is not None else {}
    values.update({k: v for k, v in flags.items() if v is not None})
    return values


def checked_inputs(s: RunSettings) -> tuple[ScenarioLibrary, ModelsConfig, FaultPlan | None]:
    """What a tournament and a benchmark check before claiming a run: the library, the models
    config (and every spec against it), file names the specs would share, the fault plan."""
    library = ScenarioLibrary(Path(s.library) if s.library else SCENARIOS_ROOT)
    config = with_base_url(models_config(Path(s.models_file) if s.models_file else None), s.base_url)
    check_specs(s.models, s.simulator, s.judge, config)
    check_file_names(s.models)
    return library, config, fault_plan(s)


def release(store: Store | None, lock: IO[bytes] | None) -> None:
    """Close what a failed preparation had opened (the store and the run's lock)."""
    if store is not None:
        store.close()
    if lock is not None:
        lock.close()


def fault_plan(s: RunSettings) -> FaultPlan | None:
    """``--faults``: the rehearsal's plan, seeded by the run's seed (checked before any work)."""
    return FaultPlan.parse(s.faults, seed=s.seed) if s.faults else None


STILLBORN = {RUN_MARKER, STORE_NAME, f"{STORE_NAME}-wal", f"{STORE_NAME}-shm", f"{STORE_NAME}-journal"}


def _reclaim_stillborn(run_dir: Path, run: str) -> None:
    """A run killed after creating its store and before recording its settings holds only its
    marker and an empty store: nothing was played, so the folder is cleared for a new start. The
    store is created under the run's lock, so holding the lock and finding it empty means its
    creator is gone. A folder with a marker and no store is never touched: it may be a run being
    claimed right now, or an ``arena match`` run."""
    try:
        if not (run_dir / RUN_MARKER).is_file() or not (run_dir / STORE_NAME).is_file():
            return
        names = {p.name for p in run_dir.iterdir()}
    except OSError:  # an unusable path: prepare_run_dir names the problem
        return
    if not names <= STILLBORN:
        return
    try:
        lock = lock_run(run_dir, run)
    except UsageError:
        return  # in use: refused as an existing run
    with lock:
        if not _empty_store(run_dir / STORE_NAME):
            return  # a real run (--resume it), or a file this arena did not write: refused as existing
        for name in names:
            (run_dir / name).unlink(missing_ok=True)


def _empty_store(path: Path) -> bool:
    """True when the store records no run: no tables yet (killed while creating it) or no ``runs`` row."""
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)) as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not tables:
                return True
            return "runs" in tables and db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0
    except sqlite3.Error:
        return path.stat().st_size == 0


def claim_run(s: RunSettings, run: str) -> tuple[Path, IO[bytes], Store]:
    """A new run: its folder created (never an existing run's, but a stillborn one is reclaimed),
    locked, its store created with the settings (the run's identity for a later ``--resume``)."""
    _reclaim_stillborn(Path(s.out) / run, run)
    run_dir = prepare_run_dir(Path(s.out), run)
    lock = lock_run(run_dir, run)
    store = Store(run_dir / STORE_NAME, create=True)
    store.init_run(run, s.model_dump(mode="json", exclude={"run"}), version())
    return run_dir, lock, store


def reopen_run(given: dict[str, Any], *, kind: str = "tournament", model: type[S] = TournamentSettings,  # type: ignore[assignment]
               identity: tuple[str, ...] = IDENTITY, mutable: tuple[str, ...] = MUTABLE,
               forget: Callable[[Store], tuple[int, list[str]]] = Store.forget_infrastructure_errors,
               ) -> tuple[S, Path, IO[bytes], Store, int]:
    """``--resume`` of a ``kind`` run (``tournament`` or ``bench``): its folder locked, stale
    temporary files removed, its settings from the store (a given option that contradicts them is
    refused); what ended with an infrastructure error is forgotten (``forget``: played again) and
    its transcripts set aside in ``failed/``. Returns the settings, folder, lock, store and how many
    were forgotten."""
    run = given.get("run")
    if not run:
        raise UsageError("--resume needs --run NAME: the run to resume")
    check_run_name(run)
    run_dir = Path(given.get("out") or DEFAULT_OUT) / run
    if not (run_dir / STORE_NAME).is_file() or not (run_dir / RUN_MARKER).is_file():
        raise UsageError(f"--resume: {clip_path(run_dir)} holds no {kind} run; valid: the name of a {kind} run in "
                         "--out")
    lock = lock_run(run_dir, run)
    try:
        for stale in run_dir.glob(".*.tmp"):  # a write the killed run never finished (we hold the lock)
            stale.unlink(missing_ok=True)
        store = Store(run_dir / STORE_NAME)
        try:
            stored_run, stored = store.run_config()
            found = stored.get("kind", "tournament")
            if found != kind:
                raise UsageError(f"--resume: {clip_path(run_dir)} is a {'benchmark' if found == 'bench' else found} "
                                 f"run, not a {kind}; resume it with arena {found} --resume")
            s = model.model_validate(resume_settings(stored, given, run, model, identity, mutable)
                                     | {"run": stored_run})
            retried, failed = forget(store)
            for name in failed:
                set_aside(run_dir, name)
        except ValidationError as exc:
            store.close()
            raise ArenaError(f"store {clip_path(store.path)}: the stored settings are not valid ({problem(exc)})"
                             ) from None
        except BaseException:
            store.close()
            raise
    except BaseException:
        lock.close()
        raise
    return s, run_dir, lock, store, retried


def prepare(flags: dict[str, Any], config_file: Path | None, *, resume: bool, clock: Clock | None = None,
            executor: Executor | None = None, command: str = "tournament") -> Tournament:
    """Every check before any match: settings, specs, scenarios, output folder; then the run is
    claimed (new) or reopened and locked (``resume``)."""
    given = _given(flags, config_file)
    retried = 0
    s: TournamentSettings
    if resume:
        s, run_dir, lock, store, retried = reopen_run(given, model=TournamentSettings)
        run = str(s.run)
    else:
        s = settings(given, config_file)
        run = s.run or new_run_name(command)
        check_run_name(run)
    opened: tuple[Store | None, IO[bytes] | None] = (store, lock) if resume else (None, None)
    try:
        library, config, faults = checked_inputs(s)
        board = slots(library, s)
        scheduler = make_scheduler(s.scheduler, s.models, board, seed=s.seed, matches=s.matches,
                                   batch_size=max(8, len(s.models) // 2))  # not --concurrency: a resume may change it
        if not resume:
            run_dir, lock, store = claim_run(s, run)
            opened = (store, lock)
        cast = build_cast(simulator=s.simulator, judge=s.judge, config=config, faults=faults)
    except BaseException:
        release(*opened)
        raise
    pairwise: PairwiseJudge | None = None
    if len(s.judge) == 1 and s.judge[0] != composition.RUBRIC:
        built = build_pairwise_judge(s.judge[0], config, cast.gateway)
        pairwise = built if isinstance(built, PairwiseJudge) else None
    player = MatchPlayer(library=library, cast=cast, run=run, run_dir=run_dir, max_turns=s.max_turns,
                         stored={e["id"]: e["transcript"] for e in store.encounters()}, pairwise=pairwise, clock=clock)
    return Tournament(settings=s, run=run, run_dir=run_dir, store=store, library=library, cast=cast,
                      scheduler=scheduler, player=player, executor=executor or LocalExecutor(s.concurrency),
                      lock=lock, retried=retried)


def check_file_names(models: list[str]) -> None:
    """Two specs whose transcript files would share a name are refused before any work."""
    seen: dict[str, str] = {}
    for spec in models:
        name = transcript_name("x", spec, Mode.PATIENT, 0)
        if name in seen:
            raise UsageError(f"--models: {quoted(seen[name])} and {quoted(spec)} would share transcript file names; "
                             "name one of them through an endpoint of the models file")
        seen[name] = spec


async def execute(t: Tournament, on_progress: Callable[[Progress], None] | None = None) -> dict[str, Any]:
    """Play until the scheduler is done; returns the leaderboard (also written to the run folder)."""
    finished = t.store.matches()
    progress = Progress(total=max(t.scheduler.total, len(finished)), done=len(finished),
                        errors=sum(1 for r in finished if not r.rated))
    if on_progress:
        on_progress(progress)

    def done(result: MatchResult) -> None:
        if t.store.record_match(result.record, result.encounters):
            t.player.recorded(result)
            finished.append(result.record)
            progress.done += 1
            progress.played_here += 1
            progress.errors += 0 if result.record.rated else 1
            progress.usage = progress.usage + result.usage
            progress.total = max(progress.total, progress.done)
            if on_progress:
                on_progress(progress)

    try:
        await _play_all(t, finished, done)
    finally:
        await t.player.stop_flights()  # nothing may be mid-call when its client closes
        await t.cast.aclose()
        await composition.close_quietly(getattr(t.player.pairwise, "client", None))
    return write_leaderboard(t)


async def _play_all(t: Tournament, finished: list[MatchRecord], done: Callable[[MatchResult], None]) -> None:
    """Batches from the scheduler, each played to the end, until it has none left."""
    while True:
        pending = t.store.unfinished()
        if not pending:
            scheduled = [spec for _, spec in t.store.scheduled()]
            batch = t.scheduler.next_batch(scheduled, finished)
            if not batch:
                break
            rounds = len({r for r, _ in t.store.scheduled()})
            t.store.schedule(batch, rounds)
            pending = t.store.unfinished()
        before = len(finished)
        await t.executor.run(pending, t.player.play, done)
        if len(finished) == before:  # nothing recorded: the store and the schedule disagree
            raise ArenaError(f"store {clip_path(t.store.path)}: {len(pending)} scheduled matches were played but "
                             "none could be recorded")


def standings_of(store: Store, library: ScenarioLibrary, s: TournamentSettings, run: str) -> dict[str, Any]:
    encounters = store.encounters()
    groups = {}
    for sid in {e["scenario"] for e in encounters}:
        try:
            groups[sid] = subgroups_of(library.get(sid))
        except ArenaError:  # a scenario no longer in the library: no subgroup, still rated
            groups[sid] = []
    return leaderboard(s.models, store.matches(scheduled_order=True), encounters, groups, run=run,
                       judge="+".join(s.judge), seeds=s.seeds, rounds=s.bootstrap, seed=s.seed,
                       scheduled=len(store.scheduled()))


def write_leaderboard(t: Tournament) -> dict[str, Any]:
    board = standings_of(t.store, t.library, t.settings, t.run)
    atomic_write(t.run_dir / LEADERBOARD_NAME, dumps_json(board) + "\n")
    t.store.snapshot(board)
    return board


def open_run(path: Path) -> tuple[Path, Store, TournamentSettings, str]:
    """A finished or running tournament's folder, read-only use (``arena leaderboard``, ``export``)."""
    run_dir = path
    store_path = run_dir / STORE_NAME
    if not store_path.is_file():
        raise UsageError(f"{clip_path(run_dir)} is not a tournament run (no {STORE_NAME}); valid: a run folder "
                         "written by arena tournament or arena demo")
    store = Store(store_path, read_only=True)
    try:
        run, stored = store.run_config()
        if stored.get("kind") == "bench":
            raise UsageError(f"{clip_path(run_dir)} is a benchmark run (arena bench), not a tournament; valid: "
                             f"arena report {clip_path(run_dir)}, or its bench.json")
        return run_dir, store, TournamentSettings.model_validate(stored), run
    except ValidationError as exc:
        store.close()
        raise ArenaError(f"store {clip_path(store_path)}: the stored settings are not valid ({problem(exc)})") from None
    except BaseException:
        store.close()
        raise

