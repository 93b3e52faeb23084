"""``arena rejudge``: grade stored transcripts again with another judge (or jury), without calling the
target or the simulator.

Every input is read and checked (transcript JSON, scenario known to the library, judge specs)
before anything is judged; the results go to a new run folder ``DIR/RUN/`` (claimed exclusively, as
``arena match`` does), so the original files are never touched. Each new transcript keeps the
conversation, the target's and simulator's calls and the termination of the original; its verdict
(or ``judge_error``), ``judge``, ``run``, judge calls and usage are the new judge's. The old judge's
calls are dropped from the new file (they belong to the old verdict, which the original keeps).
Transcripts that ended in an infrastructure error are reported as not gradeable and not written.
``rejudge.json`` in the run folder maps every source to its new file with old and new scores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from rich.text import Text

from arena.cli_commands import COMMANDS
from arena.cli_models import add_models_file_option, models_config
from arena.cli_parser import path_arg
from arena.composition import RUBRIC, RULE_BASED, build_cast, check_specs, judge_specs, with_base_url
from arena.echo import clip, clip_path, exception_text
from arena.errors import ArenaError, UsageError
from arena.files import atomic_write
from arena.limits import MAX_TRANSCRIPT_FILE_BYTES
from arena.protocols import Judge, JudgeFailed, NotGradeable
from arena.records import REJUDGE_MANIFEST, parse_record, read_json
from arena.runner import check_run_name, new_run_name, prepare_run_dir, transcript_filename
from arena.schemas.calls import ModelCall, UsageSummary
from arena.schemas.scenario import Dimension, Scenario
from arena.schemas.transcript import JudgeError, Transcript
from arena.schemas.verdict import Verdict
from arena.terminal import dumps_json
from scenarios.library import SCENARIOS_ROOT, ScenarioLibrary

DEFAULT_OUT = Path("transcripts")  # the same folder of runs as `arena match`
MANIFEST = REJUDGE_MANIFEST
SHORT = {"coherence": "coh", "uncertainty": "unc", "narrative": "nar", "safety": "saf", "accuracy": "acc"}
Status = Literal["judged", "judge_error", "not_gradeable"]


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    rejudge = sub.add_parser(
        "rejudge", help=COMMANDS["rejudge"],
        description="Re-grade stored transcripts (files, or folders of them) with --judge (repeat it for a "
                    "jury). The new transcripts go to a new run folder DIR/RUN/; the originals are never "
                    "touched. Prints old and new scores.")
    rejudge.add_argument("paths", nargs="+", type=path_arg, metavar="TRANSCRIPT|DIR",
                         help="transcript JSON files, or run folders holding them")
    rejudge.add_argument("--judge", action="append", metavar="SPEC",
                         help=f"who grades: {RUBRIC} (the offline rubric judge) or a model spec; repeat for a "
                              f"jury (median of the judges) (default: {RUBRIC})")
    rejudge.add_argument("--library", type=path_arg, default=SCENARIOS_ROOT, metavar="ROOT",
                         help="scenario library root holding cases/ and images/ (default: the built-in one)")
    add_models_file_option(rejudge)
    rejudge.add_argument("--base-url", metavar="URL", help="base URL for openai-compatible/<model> judge specs")
    rejudge.add_argument("--out", type=path_arg, default=DEFAULT_OUT, metavar="DIR",
                         help="folder of runs; the new transcripts go to DIR/RUN/")
    rejudge.add_argument("--run", type=check_run_name, metavar="NAME",
                         help="run name (default: rejudge-<UTC date-time>-<random>); an existing run is refused")
    rejudge.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")


# ------------------------------------------------------------------ reading


@dataclass(frozen=True)
class Stored:
    path: Path
    transcript: Transcript


def _is_transcript_like(value: Any) -> bool:
    return isinstance(value, dict) and "encounter_id" in value and "turns" in value


def _load(path: Path, *, in_folder: bool) -> Transcript | None:
    """The transcript in ``path``; in a folder, a JSON file that is not one (``leaderboard.json``) is None."""
    raw = read_json(path, limit=MAX_TRANSCRIPT_FILE_BYTES, what="transcript")
    if in_folder and not _is_transcript_like(raw):
        return None
    return parse_record(raw, Transcript, path=path, what="transcript")


def collect(paths: Sequence[Path]) -> list[Stored]:
    """Every transcript named (files) or held (``*.json`` directly in a folder), each once."""
    found: list[Stored] = []
    seen: set[str] = set()
    for given in paths:
        if given.is_dir():
            try:
                names = sorted(e.name for e in os.scandir(given) if e.name.endswith(".json")
                               and not e.name.startswith("."))
            except OSError as exc:
                raise UsageError(f"cannot list {clip_path(given)}: {exception_text(exc)}") from None
            if not names:
                raise UsageError(f"{clip_path(given)} holds no transcript (*.json)")
            candidates = [(given / name, True) for name in names]
        else:
            candidates = [(given, False)]
        for path, in_folder in candidates:
            key = os.path.realpath(path)
            if key in seen:
                continue
            seen.add(key)
            transcript = _load(path, in_folder=in_folder)
            if transcript is not None:
                found.append(Stored(path, transcript))
    if not found:
        raise UsageError("no transcripts to re-judge in " + ", ".join(clip_path(p) for p in paths))
    return found


def scenarios_of(stored: Sequence[Stored], library: ScenarioLibrary) -> dict[str, Scenario]:
    out: dict[str, Scenario] = {}
    for item in stored:
        sid = item.transcript.scenario_id
        if sid not in out:
            try:
                out[sid] = library.get(sid)
            except UsageError as exc:
                raise UsageError(f"transcript {clip_path(item.path)}: {exc}") from None
    return out


# ------------------------------------------------------------------ judging


class Scores(BaseModel):
    overall: float
    scores: dict[str, int]


class Row(BaseModel):
    source: str
    output: str | None
    status: Status
    scenario_id: str
    target: str
    encounter_id: str
    old_judge: str | None
    old: Scores | None
    new: Scores | None
    message: str = ""


def _scores(verdict: Verdict | None) -> Scores | None:
    if verdict is None:
        return None
    return Scores(overall=round(verdict.overall, 4), scores={d.value: verdict.score(d) for d in Dimension})


def rejudged(transcript: Transcript, judge: str, run: str, verdict: Verdict | None, error: JudgeError | None,
             judge_calls: list[ModelCall]) -> Transcript:
    """The transcript with the new judge's verdict (or error) and calls; the old judge's calls dropped."""
    calls = [*(c for c in transcript.calls if c.role != "judge"), *judge_calls]
    return transcript.model_copy(update={"run": run, "judge": judge, "verdict": verdict, "judge_error": error,
                                         "calls": calls, "usage": UsageSummary.of(calls)})


def _unique_name(transcript: Transcript, used: set[str]) -> str:
    name = transcript_filename(transcript)
    stem, n = name.removesuffix(".json"), 1
    while name in used:
        n += 1
        name = f"{stem[:200]}__{n}.json"
    used.add(name)
    return name


def _write(path: Path, text: str) -> None:
    try:
        atomic_write(path, text, overwrite=False)
    except FileExistsError:
        raise ArenaError(f"{clip_path(path)} already exists; not overwritten") from None
    except OSError as exc:
        raise ArenaError(f"cannot write {clip_path(path)}: {exception_text(exc)}") from None


async def rejudge(stored: Sequence[Stored], judge: Judge, scenarios: dict[str, Scenario], run: str,
                  run_dir: Path) -> tuple[list[Row], list[ModelCall]]:
    """Grade each transcript with ``judge`` and write the gradeable ones to ``run_dir``; one row
    each, and every judge call made. Makes no target or simulator call."""
    rows: list[Row] = []
    made: list[ModelCall] = []
    used: set[str] = set()
    for item in stored:
        original = item.transcript
        row = Row(source=str(item.path), output=None, status="not_gradeable", scenario_id=original.scenario_id,
                  target=original.target, encounter_id=original.encounter_id, old_judge=original.judge,
                  old=_scores(original.verdict), new=None)
        calls: list[ModelCall] = []
        verdict: Verdict | None = None
        error: JudgeError | None = None
        try:
            verdict = await judge.judge(original, scenarios[original.scenario_id], calls=calls)
        except NotGradeable as exc:
            rows.append(row.model_copy(update={"message": clip(str(exc), 300)}))
            continue
        except JudgeFailed as exc:
            calls = calls or exc.calls
            error = JudgeError(judge=judge.name, message=str(exc)[:2000], attempts=len(calls))
        made.extend(calls)
        new = rejudged(original, judge.name, run, verdict, error, calls)
        path = run_dir / _unique_name(new, used)
        _write(path, new.model_dump_json(indent=2) + "\n")
        status: Status = "judged" if verdict else "judge_error"
        rows.append(row.model_copy(update={"output": str(path), "status": status, "new": _scores(verdict),
                                           "message": error.message[:300] if error else ""}))
    return rows, made


# ------------------------------------------------------------------ command


def _cell(old: Scores | None, new: Scores | None, dimension: str | None) -> str:
    def one(s: Scores | None) -> str:
        if s is None:
            return "–"
        return f"{s.overall:.2f}" if dimension is None else str(s.scores[dimension])
    return f"{one(old)}→{one(new)}"


def _table(rows: list[Row], judge: str) -> Table:
    table = Table(title=f"Re-judged by {judge} (old→new, 1-5)",
                  caption=", ".join(f"{v}={k}" for k, v in SHORT.items()))
    table.add_column("transcript")
    table.add_column("target", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("overall", justify="right", no_wrap=True)
    for short in SHORT.values():
        table.add_column(short, justify="right", no_wrap=True)
    for row in rows:
        table.add_row(Path(row.source).name, row.target, row.status.replace("_", " "),
                      _cell(row.old, row.new, None), *[_cell(row.old, row.new, d) for d in SHORT])
    return table


async def _run(args: argparse.Namespace, console: Console) -> int:
    specs = judge_specs(args.judge or [RUBRIC])
    config = with_base_url(models_config(args.models_file), args.base_url)
    check_specs([], RULE_BASED, specs, config)
    stored = collect(args.paths)
    scenarios = scenarios_of(stored, ScenarioLibrary(args.library))
    run = args.run or new_run_name("rejudge")
    run_dir = prepare_run_dir(args.out, run)
    cast = build_cast(judge=specs, config=config)
    try:
        rows, made = await rejudge(stored, cast.judge, scenarios, run, run_dir)
    finally:
        cast.close()
    usage = UsageSummary.of(made)
    summary = {"run": run, "judge": cast.judge.name, "out": str(run_dir), "usage": usage.model_dump(mode="json"),
               "transcripts": [r.model_dump(mode="json") for r in rows]}
    _write(run_dir / MANIFEST, dumps_json(summary) + "\n")
    if args.json:
        print(dumps_json(summary))
        return 0
    console.print(_table(rows, cast.judge.name))
    for row in rows:
        if row.message:
            console.print(Text(f"{Path(row.source).name}: {row.status.replace('_', ' ')}: {row.message}",
                               style="yellow"), soft_wrap=True)
    written = sum(1 for r in rows if r.output)
    console.print(Text(f"{written} transcript(s) written to {run_dir}/ ({usage.calls} judge calls); "
                       f"the originals are unchanged"), soft_wrap=True)
    return 0


def run(args: argparse.Namespace, console: Console) -> int:
    return asyncio.run(_run(args, console))
