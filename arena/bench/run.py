"""The benchmark loop: validate everything, claim (or reopen) the run, then play every cell not yet
recorded, writing each with its encounter and verdict in one transaction; then ``bench.json``.

Cells are identified by their encounter id (scenario, model, mode, seed and ablation), so a resumed
run plays exactly what is missing. A transcript left on disk without its store row (the run was
killed in between) is read back, not played again; one that ended with an infrastructure error is
set aside in ``failed/`` and played again, as are recorded infrastructure errors on ``--resume``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from arena.bench.config import IDENTITY, BenchSettings, Cell, cells, load_file, settings
from arena.bench.results import results
from arena.composition import Cast, build_cast
from arena.echo import clip_path
from arena.encounter.clock import Clock
from arena.errors import UsageError
from arena.files import atomic_write
from arena.records import BENCH_RESULTS
from arena.runner import (
    EncounterPlan,
    check_run_name,
    new_run_name,
    play,
    save_transcript,
    transcript_name,
)
from arena.schemas.transcript import Transcript
from arena.terminal import dumps_json
from arena.tournament.play import orphan
from arena.tournament.run import MUTABLE, Progress, checked_inputs, claim_run, release, reopen_run
from arena.tournament.store import Store
from scenarios.library import ScenarioLibrary

RESULTS_NAME = BENCH_RESULTS


@dataclass
class Bench:
    settings: BenchSettings
    run: str
    run_dir: Path
    store: Store
    library: ScenarioLibrary
    cast: Cast
    cells: list[Cell]
    lock: IO[bytes]
    retried: int = 0
    clock: Clock | None = None

    def close(self) -> None:
        self.cast.close()
        self.store.close()
        self.lock.close()


def prepare(flags: dict[str, Any], config_file: Path | None, *, resume: bool, clock: Clock | None = None) -> Bench:
    """Every check before any encounter, then the run claimed (new) or reopened and locked."""
    given = load_file(config_file) if config_file is not None else {}
    given.update({k: v for k, v in flags.items() if v is not None})
    retried = 0
    if resume:
        s, run_dir, lock, store, retried = reopen_run(given, kind="bench", model=BenchSettings, identity=IDENTITY,
                                                      mutable=(*MUTABLE, "annotations"),
                                                      forget=Store.forget_infrastructure_cells)
        run = str(s.run)
    else:
        s = settings(given, config_file)
        run = s.run or new_run_name("bench")
        check_run_name(run)
    opened: tuple[Store | None, IO[bytes] | None] = (store, lock) if resume else (None, None)
    try:
        library, config, faults = checked_inputs(s)
        if s.annotations is not None and not Path(s.annotations).is_file():
            raise UsageError(f"--annotations {clip_path(s.annotations)}: no such file")
        todo = cells(library, s)
        if not resume:
            run_dir, lock, store = claim_run(s, run)
            opened = (store, lock)
        cast = build_cast(simulator=s.simulator, judge=s.judge, config=config, faults=faults)
    except BaseException:
        release(*opened)
        raise
    return Bench(settings=s, run=run, run_dir=run_dir, store=store, library=library, cast=cast, cells=todo,
                 lock=lock, retried=retried, clock=clock)


async def _play(b: Bench, cell: Cell) -> tuple[Transcript, str]:
    name = transcript_name(cell.scenario_id, cell.model, cell.mode, cell.seed, cell.ablation)
    known = orphan(b.run_dir, name, cell.id, b.run)
    if known is not None:
        return known, name
    scenario = b.library.get(cell.scenario_id)
    plan = EncounterPlan(scenario, b.library.image_bytes(scenario), cell.model, cell.mode, cell.seed,
                         b.settings.max_turns, cell.ablation)
    transcript = await play(plan, b.cast, run=b.run, clock=b.clock)
    save_transcript(transcript, b.run_dir)
    return transcript, name


async def execute(b: Bench, on_progress: Callable[[Progress], None] | None = None) -> dict[str, Any]:
    """Play every cell not recorded yet (``concurrency`` at a time); returns the results document
    (also written to ``RUN/bench.json``)."""
    done = {row["id"] for row in b.store.cells()}
    order = {cell.id: i for i, cell in enumerate(b.cells)}
    pending = [c for c in b.cells if c.id not in done]
    progress = Progress(total=len(b.cells), done=len(b.cells) - len(pending))
    if on_progress:
        on_progress(progress)
    queue: asyncio.Queue[Cell] = asyncio.Queue()
    for cell in pending:
        queue.put_nowait(cell)

    async def worker() -> None:
        while not queue.empty():
            cell = queue.get_nowait()
            transcript, name = await _play(b, cell)
            if b.store.record_cell(transcript, name, order[cell.id]):
                progress.done += 1
                progress.played_here += 1
                progress.errors += int(transcript.termination.is_infrastructure)
                if transcript.usage:
                    progress.usage = progress.usage + transcript.usage
                if on_progress:
                    on_progress(progress)

    workers = [asyncio.ensure_future(worker()) for _ in range(min(b.settings.concurrency, max(1, len(pending))))]
    try:
        await asyncio.gather(*workers)
    finally:  # every worker stopped before the clients close: none is left mid-call
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await b.cast.aclose()
    return write_results(b)


def write_results(b: Bench) -> dict[str, Any]:
    document = results(b.store.cells(), b.library, b.settings, b.run, b.run_dir)
    atomic_write(b.run_dir / RESULTS_NAME, dumps_json(document) + "\n")
    return document
