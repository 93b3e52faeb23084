"""What a report shows, read from a run folder: the leaderboard (recomputed from the store, as
``arena leaderboard`` does), the matches, win-rate and match-count matrices, the calibration of the
closing differentials, and every transcript with its forks grouped under their parent.

A tournament run is a folder with ``arena.sqlite``; a match folder (``arena match``, ``arena fork``)
holds transcripts only, so its "leaderboard" is the per-model mean scores, with no ratings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
from pydantic import ValidationError

from arena.cli_replay import evidence_of, sent_images
from arena.cli_tables import calibration_rows, model_means
from arena.echo import clip_path
from arena.errors import ArenaError, UsageError
from arena.records import NOT_TRANSCRIPTS, load_transcript
from arena.schemas.calls import ImageRef
from arena.schemas.transcript import Transcript, Turn
from arena.stats.calibration import N_BINS, bin_index, case_from_differential, top1
from arena.tournament.config import problem
from arena.tournament.match import MatchRecord
from arena.tournament.store import STORE_NAME, Store
from scenarios.library import SCENARIOS_ROOT, ScenarioLibrary


@dataclass
class TurnView:
    turn: Turn
    anchor: str
    cited: list[str]  # dimensions whose verdict cites this turn
    images: list[tuple[str, ImageRef | None]]  # (image id, as sent)


@dataclass(eq=False)  # compared by identity: a view is one file's place in the page
class TranscriptView:
    transcript: Transcript
    file: str
    anchor: str
    turns: list[TurnView]
    forks: list[TranscriptView] = field(default_factory=list)
    parent_view: TranscriptView | None = None

    @property
    def overall(self) -> float | None:
        return self.transcript.verdict.overall if self.transcript.verdict else None

    def descendants(self) -> list[TranscriptView]:
        """Its forks, their forks and so on, each after its parent."""
        out: list[TranscriptView] = []
        for fork in self.forks:
            out += [fork, *fork.descendants()]
        return out

    def has_turn(self, index: int) -> bool:
        """Whether turn ``index`` is shown somewhere (a fork's early turns are its parent's)."""
        return any(t.index == index for t in self.transcript.turns)

    def turn_anchor(self, index: int) -> str:
        """Where turn ``index`` is shown: a fork's turns before its branch point are its parent's."""
        origin = self.transcript.parent
        if origin is not None and self.parent_view is not None and index < origin.at_turn:
            return self.parent_view.turn_anchor(index)
        return f"{self.anchor}-{index}"

    def branch_pairs(self) -> list[tuple[TurnView | None, TurnView | None]]:
        """A fork beside its parent, from the turn it branched at: (parent turn, branch turn) rows."""
        assert self.transcript.parent is not None and self.parent_view is not None
        at = self.transcript.parent.at_turn
        left = [v for v in self.parent_view.turns if v.turn.index >= at]
        right = [v for v in self.turns if v.turn.index >= at]
        width = max(len(left), len(right))
        return [(left[i] if i < len(left) else None, right[i] if i < len(right) else None) for i in range(width)]


@dataclass
class Matrix:
    models: list[str]
    cells: list[list[float | None]]  # row model vs column model


@dataclass
class CalibrationCurve:
    model: str
    confidence: list[float]  # per non-empty bin: mean top-1 confidence
    accuracy: list[float]  # per non-empty bin: top-1 accuracy
    counts: list[int]


@dataclass
class RunReport:
    kind: str  # "tournament" or "match folder"
    name: str
    folder: Path
    board: dict[str, Any] | None
    score_rows: list[dict[str, Any]]
    matches: list[MatchRecord]
    win_rate: Matrix
    match_count: Matrix
    calibration: list[dict[str, Any]]
    curves: list[CalibrationCurve]
    transcripts: list[TranscriptView]  # parents and stand-alone transcripts; forks sit under them
    by_encounter: dict[str, TranscriptView]
    library: ScenarioLibrary
    failed: int  # transcripts set aside in failed/ (infrastructure errors played again)
    by_file: dict[str, TranscriptView] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    bench: dict[str, Any] | None = None  # an arena bench run's results document

    def views(self) -> list[TranscriptView]:
        """Every transcript shown, each root followed by its forks (at any depth)."""
        return [v for root in self.transcripts for v in [root, *root.descendants()]]


def resolve_run(path: Path, runs_root: Path) -> Path:
    """RUN as a folder, or as a run name under ``runs_root``."""
    for folder in (path, runs_root / path):
        if folder.is_dir():
            return folder
    raise UsageError(f"no run folder {clip_path(path)} (nor {clip_path(runs_root / path)}); valid: a folder written by "
                     "arena tournament, demo, match or fork")


def _view(t: Transcript, file: str, position: int) -> TranscriptView:
    """Anchors by position in the folder (``t<n>``, ``t<n>-<turn>``): unique whatever the ids hold."""
    images = sent_images(t)
    cited = evidence_of(t)
    anchor = f"t{position}"
    turns = [TurnView(turn, f"{anchor}-{turn.index}", cited.get(turn.index, []),
                      [(image_id, images.get(image_id)) for image_id in turn.images]) for turn in t.turns]
    return TranscriptView(t, file, anchor, turns)


def read_transcripts(folder: Path) -> tuple[list[tuple[Transcript, str]], list[str]]:
    """The folder's transcripts, and a note for each JSON file that is not one (left out, never fatal:
    a report shows what it can and says what it could not read)."""
    loaded, notes = [], []
    for path in sorted(p for p in folder.glob("*.json") if p.name not in NOT_TRANSCRIPTS):
        try:
            loaded.append((load_transcript(path), path.name))
        except ArenaError as exc:
            notes.append(f"left out: {exc}")
    return loaded, notes


Tree = tuple[list["TranscriptView"], dict[str, "TranscriptView"], list[str]]


def _tree(loaded: Sequence[tuple[Transcript, str]]) -> Tree:
    """Views with each fork under the parent it names (a cycle of forks is broken: its first member
    found stays a root), and a note per duplicate encounter id."""
    views = [_view(t, f, i) for i, (t, f) in enumerate(loaded)]
    by_id: dict[str, TranscriptView] = {}
    notes = []
    for v in views:
        first = by_id.setdefault(v.transcript.encounter_id, v)
        if first is not v:
            notes.append(f"{v.file} has the encounter id of {first.file} ({v.transcript.encounter_id}; a re-judged "
                         "copy?): both are shown, forks and matches link to the first")
    roots = []
    for v in views:
        origin = v.transcript.parent
        parent = by_id.get(origin.encounter_id) if origin else None
        if parent is not None and parent is not v and v not in parent.descendants() and parent not in v.descendants():
            v.parent_view = parent
            parent.forks.append(v)
        else:
            roots.append(v)
    roots.sort(key=lambda v: (v.transcript.scenario_id, v.transcript.mode.value, v.transcript.seed,
                              v.transcript.target, v.transcript.ablation or "", v.file))
    for v in views:
        v.forks.sort(key=lambda f: (f.transcript.parent.at_turn if f.transcript.parent else 0, f.file))
    return roots, by_id, notes


def matrices(models: Sequence[str], matches: Sequence[MatchRecord]) -> tuple[Matrix, Matrix]:
    """Win rate of the row model against the column model (a tie counts half; None where they never
    met in a rated match) and the number of rated matches between them."""
    index = {m: i for i, m in enumerate(models)}
    n = len(models)
    points = np.zeros((n, n))
    played = np.zeros((n, n), dtype=int)
    for r in matches:
        a, b = index.get(r.spec.model_a), index.get(r.spec.model_b)
        if not r.rated or a is None or b is None:
            continue
        played[a, b] += 1
        played[b, a] += 1
        points[a, b] += r.score_a
        points[b, a] += 1.0 - r.score_a
    rate: list[list[float | None]] = [[float(points[i, j] / played[i, j]) if played[i, j] else None
                                       for j in range(n)] for i in range(n)]
    count: list[list[float | None]] = [[float(played[i, j]) if i != j else None for j in range(n)] for i in range(n)]
    return Matrix(list(models), rate), Matrix(list(models), count)


def calibration_curves(library: ScenarioLibrary, transcripts: Sequence[Transcript]) -> list[CalibrationCurve]:
    """Per model, the reliability diagram of its closing differentials: the top-1 confidence and
    accuracy (ties at the top count 1/t, as in :func:`arena.stats.calibration.top1`) per
    equal-width bin of confidence; models with no usable differential are left out."""
    cases: dict[str, list[Any]] = defaultdict(list)
    for t in transcripts:
        gt = library.get(t.scenario_id).ground_truth
        names = [gt.diagnosis.name, *(d.name for d in gt.differential)]
        case = case_from_differential(t.closing_differential, names, gt.diagnosis.name)
        cases[t.target]  # a model with no usable case keeps its place (and is left out below)
        if case is not None:
            cases[t.target].append(case)
    curves = []
    for model, found in cases.items():
        if not found:
            continue
        confidence, correct = top1(found)
        bins = bin_index(confidence, N_BINS)
        counts = np.bincount(bins, minlength=N_BINS)
        conf = np.bincount(bins, weights=confidence, minlength=N_BINS)
        acc = np.bincount(bins, weights=correct, minlength=N_BINS)
        full = counts > 0
        curves.append(CalibrationCurve(model, (conf[full] / counts[full]).tolist(), (acc[full] / counts[full]).tolist(),
                                       counts[full].astype(int).tolist()))
    return curves


def _known(library: ScenarioLibrary, transcripts: Sequence[Transcript]) -> tuple[list[Transcript], list[str]]:
    """The transcripts whose scenario the library has (calibration needs its ground truth)."""
    try:
        ids = set(library.ids())
    except ArenaError as exc:
        return [], [f"no images or calibration: {exc}; pass --library ROOT"]
    missing = sorted({t.scenario_id for t in transcripts} - ids)
    notes = [f"scenario {sid} is not in the library {clip_path(library.root)}: its transcripts are shown without "
             "images or calibration" for sid in missing]
    return [t for t in transcripts if t.scenario_id in ids], notes


def gather(folder: Path, *, library_root: Path | None = None) -> RunReport:
    """Everything the report shows, from a tournament run or a folder of transcripts."""
    if (folder / STORE_NAME).is_file():
        return _bench(folder, library_root) if _is_bench(folder) else _tournament(folder, library_root)
    loaded, unread = read_transcripts(folder)
    if not loaded:
        why = f" ({unread[0]})" if unread else ""
        raise UsageError(f"{clip_path(folder)}: neither a tournament run (no {STORE_NAME}) nor a folder of "
                         f"transcripts{why}; valid: a folder written by arena tournament, demo, match or fork")
    library = ScenarioLibrary(library_root or SCENARIOS_ROOT)
    return _assemble("match folder", folder.name, folder, None, [], library, loaded,
                     [], len(list((folder / "failed").glob("*.json"))), unread)


def _is_bench(folder: Path) -> bool:
    store = Store(folder / STORE_NAME, read_only=True)
    try:
        return store.run_config()[1].get("kind") == "bench"
    finally:
        store.close()


def _bench(folder: Path, library_root: Path | None) -> RunReport:
    """An arena bench run: its results recomputed from the store (annotations included while their
    file is still there), and every transcript."""
    from arena.bench.config import BenchSettings
    from arena.bench.results import results

    store = Store(folder / STORE_NAME, read_only=True)
    notes: list[str] = []
    try:
        run, stored = store.run_config()
        try:
            settings = BenchSettings.model_validate(stored)
        except ValidationError as exc:
            raise ArenaError(f"store {clip_path(store.path)}: the stored settings are not valid ({problem(exc)})"
                             ) from None
        if settings.annotations and not Path(settings.annotations).is_file():
            notes.append(f"the annotations {clip_path(settings.annotations)} are gone: no agreement with humans")
            settings = settings.model_copy(update={"annotations": None})
        root = library_root or (Path(settings.library) if settings.library else SCENARIOS_ROOT)
        library = ScenarioLibrary(root)
        document = results(store.cells(), library, settings, run, folder)
    finally:
        store.close()
    loaded, unread = read_transcripts(folder)
    report = _assemble("benchmark", run, folder, None, [], library, loaded, [],
                       len(list((folder / "failed").glob("*.json"))), notes + unread)
    report.bench = document
    report.score_rows = [{"model": m["model"], "n": m["n"], "overall": m["scores"]["overall"]["mean"],
                          "scores": {k: v["mean"] for k, v in m["scores"].items() if k != "overall"}}
                         for m in document["models"] if m["n"]]
    return report


def _tournament(folder: Path, library_root: Path | None) -> RunReport:
    from arena.tournament import run as tournament_run

    run_dir, store, settings, run = tournament_run.open_run(folder)
    notes = []
    root = library_root or (Path(settings.library) if settings.library else SCENARIOS_ROOT)
    if library_root is None and not root.is_dir():
        notes.append(f"the run's library {clip_path(root)} is gone: the built-in one is used (pass --library ROOT)")
        root = SCENARIOS_ROOT
    try:
        library = ScenarioLibrary(root)
        board = tournament_run.standings_of(store, library, settings, run)
        records = store.matches(scheduled_order=True)
    finally:
        store.close()
    loaded, unread = read_transcripts(run_dir)
    return _assemble("tournament", run, run_dir, board, records, library, loaded, list(settings.models),
                     len(list((run_dir / "failed").glob("*.json"))), notes + unread)


def _assemble(kind: str, name: str, folder: Path, board: dict[str, Any] | None, records: list[MatchRecord],
              library: ScenarioLibrary, loaded: list[tuple[Transcript, str]], models: list[str],
              failed: int, notes: list[str]) -> RunReport:
    transcripts = [t for t, _ in loaded if t.ablation is None]  # an ablated encounter is another condition
    known, unknown = _known(library, transcripts)
    notes = notes + unknown
    try:
        calibration = calibration_rows(library, known)
        curves = calibration_curves(library, known)
    except (ArenaError, ValueError) as exc:  # a scenario file that no longer loads: shown, not fatal
        calibration, curves = [], []
        notes.append(f"calibration left out: {exc}")
    order = [m["model"] for m in board["models"]] if board else []
    order += [m for m in models if m not in order]  # a model with no rated match still gets its row
    win_rate, match_count = matrices(order, records)
    roots, by_id, duplicates = _tree(loaded)
    notes += duplicates
    score_rows = (board["models"] if board else
                  sorted(model_means([(t, Path(f)) for t, f in loaded if t.ablation is None]),
                         key=lambda r: -cast(float, r["overall"])))
    return RunReport(kind=kind, name=name, folder=folder, board=board, score_rows=score_rows, matches=records,
                     win_rate=win_rate, match_count=match_count, calibration=calibration, curves=curves,
                     transcripts=roots, by_encounter=by_id, library=library, failed=failed,
                     by_file={v.file: v for root in roots for v in [root, *root.descendants()]}, notes=notes)
