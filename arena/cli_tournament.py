"""``arena tournament``, ``arena leaderboard`` and ``arena export battles``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.text import Text

from arena.cli_commands import COMMANDS
from arena.cli_models import add_models_file_option
from arena.cli_parser import int_in, path_arg, seed_arg, turns_arg
from arena.cli_tables import leaderboard_table, score_table
from arena.echo import clip_path
from arena.entry import report
from arena.errors import UsageError
from arena.files import atomic_write, prepare_output_file
from arena.runner import TRANSCRIPTS_ROOT, check_run_name
from arena.terminal import dumps_json, make_console
from arena.tournament import run as tournament_run
from arena.tournament.schedule import SCHEDULERS
from arena.tournament.store import STORE_NAME, Store
from scenarios.library import SCENARIOS_ROOT, ScenarioLibrary

FLAGS = ("models", "scenarios", "seeds", "seed", "mode", "scheduler", "matches", "concurrency", "judge", "simulator",
         "max_turns", "bootstrap", "run", "out", "models_file", "base_url", "library", "faults")
FAULTS_HELP = ("a rehearsal: every target meets these faults, e.g. 429=0.1,5xx=0.05,timeout=0.02,drop=0.02,"
               "truncated=0.02,malformed=0.02,empty=0.02 (retried, or recorded as infrastructure errors)")


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    t = sub.add_parser("tournament", help=COMMANDS["tournament"])
    t.add_argument("--models", metavar="SPEC,SPEC,...", help="two or more model specs, comma-separated")
    t.add_argument("--scenarios", metavar="SELECTOR",
                   help="scenario ids, tag:T, starter or all, comma-separated (default: all)")
    t.add_argument("--seeds", type=int_in(1, 1000), metavar="N", help="simulator seeds per scenario (default: 1)")
    t.add_argument("--seed", type=seed_arg, metavar="BASE", help="first seed; seeds are BASE..BASE+N-1 "
                   "(default: 0); also seeds the schedule and the bootstrap")
    t.add_argument("--mode", choices=["default", "patient", "clinician", "all"],
                   help="who the simulator plays: each scenario's first mode, one, or all (default: default)")
    t.add_argument("--scheduler", choices=list(SCHEDULERS), help="how matches are chosen (default: round-robin)")
    t.add_argument("--matches", type=int_in(1, 10_000_000), metavar="N",
                   help="match budget (default: every pair on every slot for round-robin; models x slots / 2 "
                        "for swiss and adaptive)")
    t.add_argument("--concurrency", type=int_in(1, 1024), metavar="N", help="matches in flight (default: 4)")
    t.add_argument("--judge", action="append", metavar="SPEC",
                   help="rubric (offline) or a model spec; a model judge compares each pair in both orders; "
                        "repeat for a jury (default: rubric)")
    t.add_argument("--simulator", metavar="SPEC", help="rule-based (default) or a model spec voicing the simulator")
    t.add_argument("--max-turns", type=turns_arg, metavar="N", help="simulator turn budget, 1..50 (default: 7)")
    t.add_argument("--bootstrap", type=int_in(10, 100_000), metavar="N", help="bootstrap rounds (default: 1000)")
    t.add_argument("--config", type=path_arg, metavar="FILE.toml", help="a TOML file holding any of these options")
    t.add_argument("--resume", action="store_true",
                   help="continue the run named by --run: finished matches are kept, unfinished ones played")
    t.add_argument("--library", type=path_arg, metavar="ROOT", help="scenario library root (default: built-in)")
    add_models_file_option(t)
    t.add_argument("--base-url", metavar="URL", help="base URL for openai-compatible/<model> specs")
    t.add_argument("--out", type=path_arg, metavar="DIR", help="folder of runs (default: transcripts)")
    t.add_argument("--run", type=check_run_name, metavar="NAME",
                   help="run name (default: tournament-<UTC date-time>-<random>)")
    t.add_argument("--faults", metavar="KIND=RATE,...", help=FAULTS_HELP)
    t.add_argument("--json", action="store_true", help="print the leaderboard document on stdout")

    lb = sub.add_parser("leaderboard", help=COMMANDS["leaderboard"])
    lb.add_argument("run_path", metavar="RUN", help="a run folder, or a run name under --out")
    lb.add_argument("--out", type=path_arg, default=TRANSCRIPTS_ROOT, metavar="DIR", help="folder of runs")
    lb.add_argument("--json", action="store_true", help="print the leaderboard document on stdout")

    ex = sub.add_parser("export", help=COMMANDS["export"])
    ex.add_argument("kind", choices=["battles", "inspect"],
                    help="battles: Chatbot Arena's battle JSON (a tournament run); inspect: inspect_ai eval logs, one "
                         "per model (any run; needs the inspect extra)")
    ex.add_argument("run_path", metavar="RUN", help="a run folder, or a run name under --runs")
    ex.add_argument("--runs", type=path_arg, default=TRANSCRIPTS_ROOT, metavar="DIR", help="folder of runs")
    ex.add_argument("--out", metavar="FILE|DIR", help="battles: the file (default: RUN/battles.json; - for stdout); "
                    "inspect: the folder (default: RUN/inspect/)")


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    flags = {k: getattr(args, k, None) for k in FLAGS}
    for key in ("out", "library", "models_file"):
        if flags[key] is not None:
            flags[key] = str(flags[key])
    return flags


class LiveProgress:
    """A rich progress bar on stderr: matches done/total, rate, ETA, errors, tokens and cost."""

    def __init__(self, console: Console, what: str = "matches") -> None:
        self.bar = Progress(TextColumn(what), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                            TextColumn("{task.fields[extra]}"), console=console, transient=False)
        self.task: TaskID | None = None

    def __call__(self, p: tournament_run.Progress) -> None:
        cost = "cost unknown" if p.usage.cost_usd is None else f"${p.usage.cost_usd:.4f}"
        rate = f"{p.rate:.1f}/s"
        extra = f"errors {p.errors} · tokens {p.usage.input_tokens + p.usage.output_tokens} · {cost}"
        if self.task is None:
            self.task = self.bar.add_task("matches", total=p.total, completed=p.done, rate=rate, extra=extra)
        else:
            self.bar.update(self.task, total=p.total, completed=p.done, rate=rate, extra=extra)


def run_tournament(flags: dict[str, Any], config: Path | None, *, resume: bool, json_out: bool, console: Console,
                   title: str = "Tournament", command: str = "tournament", quiet: bool = False,
                   ) -> tuple[tournament_run.Tournament, dict[str, Any]]:
    """Prepare (every check first), play with a live progress bar on a terminal, then print the
    leaderboard (``quiet``: the caller prints)."""
    t = tournament_run.prepare(flags, config, resume=resume, command=command)
    err = make_console(stderr=True)
    if t.retried:
        err.print(Text(f"resume: {t.retried} matches that ended with an infrastructure error are played again "
                       f"(their transcripts kept in {t.run_dir / 'failed'})"), soft_wrap=True)
    live = LiveProgress(err) if err.is_terminal and not (json_out and not quiet) else None
    try:
        if live:
            with live.bar:
                board = asyncio.run(tournament_run.execute(t, on_progress=live))
        else:
            board = asyncio.run(tournament_run.execute(t))
    except KeyboardInterrupt:
        t.close()
        report(f"arena: finished matches are kept; continue with: arena tournament --run {t.run} "
               f"--out {clip_path(t.run_dir.parent)} --resume")
        raise
    t.close()
    if quiet:
        return t, board
    if json_out:
        print(dumps_json(board))
    else:
        print_board(console, board, title)
        console.print(Text(f"run folder: {t.run_dir}/ (leaderboard.json, arena.sqlite, one transcript per encounter); "
                           f"a page with every conversation: arena report {t.run_dir}"), soft_wrap=True)
    return t, board


def print_board(console: Console, board: dict[str, Any], title: str) -> None:
    m = board["matches"]
    console.print(leaderboard_table(console, board, title))
    if not board["connected"] and m["rated"]:
        groups = "; ".join(", ".join(c) for c in board["components"])
        console.print(Text(f"the comparison graph is not connected ({len(board['components'])} groups: {groups}); "
                           "play matches between the groups for a joint rating", style="yellow"))
    rows = [{"model": r["model"], "scores": r["scores"], "overall": r["overall"]} for r in board["models"]
            if r["overall"] is not None]
    if rows:
        console.print(score_table(console, rows, f"Scores (judge {board['judge']}, mean 1-5 over each model's "
                                                 "encounters)"))
    style = board.get("style_control")
    coefficients = ", ".join(f"{k} {v:+.0f}" for k, v in style["coefficients"].items()) if style else ""
    extra = f"; style control, rating points per unit of each covariate: {coefficients}" if style else ""
    console.print(Text(f"{m['finished']} matches: {m['rated']} rated ({m['ties']} ties), {m['errors']} errors "
                       f"excluded ({m['infrastructure_errors']} infrastructure, {m['judge_errors']} judge); "
                       f"compared {', '.join(board['comparison']) or '-'}{extra}"))


def _run_folder(run: str, root: Path) -> Path:
    path = Path(run)
    for folder in (path, root / run):
        if (folder / STORE_NAME).is_file():
            return folder
    raise UsageError(f"no tournament run {clip_path(path)} (looked for {clip_path(path)}/{STORE_NAME} and "
                     f"{clip_path(root / run)}/{STORE_NAME}); valid: a folder written by arena tournament or demo")


def leaderboard(args: argparse.Namespace, console: Console) -> int:
    run_dir, store, s, run = tournament_run.open_run(_run_folder(args.run_path, args.out))
    try:
        library = ScenarioLibrary(Path(s.library) if s.library else SCENARIOS_ROOT)
        board = tournament_run.standings_of(store, library, s, run)
    finally:
        store.close()
    if args.json:
        print(dumps_json(board))
    else:
        print_board(console, board, f"Leaderboard: {run}")
    return 0


def battles(store: Store, run: str) -> list[dict[str, Any]]:
    """Chatbot Arena's battle records (rated matches only) plus our fields."""
    out = []
    for r in store.matches():
        if not r.rated:
            continue
        winner = {"A": "model_a", "B": "model_b"}.get(r.outcome, "tie")
        if winner == "tie" and r.overall_a is not None and r.overall_b is not None and max(r.overall_a,
                                                                                            r.overall_b) < 3.0:
            winner = "tie (bothbad)"
        out.append({"model_a": r.spec.model_a, "model_b": r.spec.model_b, "winner": winner,
                    "tstamp": r.finished_at.timestamp(), "question_id": f"{r.spec.scenario_id}/{r.spec.mode.value}",
                    "anony": True, "turn": 1, "language": "English",
                    "match_id": r.id, "run": run, "scenario_id": r.spec.scenario_id, "mode": r.spec.mode.value,
                    "seed": r.spec.seed, "method": r.method, "judge": r.pairwise.judge if r.pairwise else None,
                    "overall_a": r.overall_a, "overall_b": r.overall_b,
                    "style_a": r.style_a.model_dump(), "style_b": r.style_b.model_dump(),
                    "transcript_a": r.transcript_a, "transcript_b": r.transcript_b})
    return out


def export(args: argparse.Namespace, console: Console) -> int:
    if args.kind == "inspect":
        from arena.export_inspect import export as export_inspect

        path = Path(args.run_path)
        run_dir = path if path.is_dir() else args.runs / args.run_path
        if not run_dir.is_dir():
            raise UsageError(f"no run folder {clip_path(path)} (nor {clip_path(run_dir)}); valid: a folder written "
                             "by arena match, demo or tournament")
        written = export_inspect(run_dir, Path(args.out) if args.out else None)
        console.print(Text(f"{len(written)} inspect_ai eval logs written to {written[0].parent}/ (open with: "
                           f"inspect view --log-dir {written[0].parent})"), soft_wrap=True)
        return 0
    run_dir, store, _, run = tournament_run.open_run(_run_folder(args.run_path, args.runs))
    try:
        records = battles(store, run)
    finally:
        store.close()
    text = dumps_json(records) + "\n"
    if args.out == "-":
        sys.stdout.write(text)
        return 0
    target = prepare_output_file(Path(args.out) if args.out else run_dir / "battles.json")
    atomic_write(target, text)
    console.print(Text(f"{len(records)} battles written to {target}"), soft_wrap=True)
    return 0


def run(args: argparse.Namespace, console: Console) -> int:
    if args.command == "tournament":
        run_tournament(_flags(args), args.config, resume=args.resume, json_out=args.json, console=console)
        return 0
    if args.command == "leaderboard":
        return leaderboard(args, console)
    return export(args, console)
