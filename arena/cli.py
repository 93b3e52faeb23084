"""The ``arena`` command line.

User mistakes print one line and exit with code 2; an invalid input file exits with 1. Every input
is checked, and the output folder proven writable, before an encounter is played. Model and case
text is printed through :class:`arena.terminal.SafeConsole`, never as markup or raw controls.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from arena import (
    cli_agreement,
    cli_bench,
    cli_models,
    cli_rejudge,
    cli_replay,
    cli_report,
    cli_scenarios,
    cli_serve,
    cli_tournament,
)
from arena.cli_commands import COMMANDS, top_level
from arena.cli_models import add_models_file_option, models_config
from arena.cli_parser import (
    ArenaParser,
    int_in,
    path_arg,
    precheck_options,
    reject_extras,
    require_command,
    seed_arg,
    turns_arg,
)
from arena.cli_tables import calibration_rows, calibration_table, model_means
from arena.composition import DEMO_MODELS, RUBRIC, RULE_BASED, Cast, build_cast, check_specs, with_base_url
from arena.echo import clip_path, exception_text
from arena.encounter.run import DEFAULT_MAX_TURNS
from arena.entry import report, silence
from arena.errors import ArenaError, UsageError
from arena.files import prepare_output_dir
from arena.records import load_transcript
from arena.runner import (
    TRANSCRIPTS_ROOT,
    check_run_name,
    new_run_name,
    plan_encounter,
    play,
    prepare_run_dir,
    save_transcript,
)
from arena.schemas.calls import UsageSummary
from arena.schemas.scenario import Dimension
from arena.schemas.transcript import Transcript
from arena.terminal import dumps_json, error_line, make_console
from arena.tournament.run import Tournament
from arena.tournament.store import STORE_NAME, Store
from scenarios.library import SCENARIOS_ROOT, ScenarioLibrary

DIMENSIONS = list(Dimension)
DEMO_SCENARIOS = ("derm-changing-mole", "derm-ambiguous-lesion", "cxr-multiple-nodules", "xr-tibia-lucent-lesion")
TURN_PREVIEW_CHARS = 220
DEFAULT_CACHE = Path(".cache") / "responses.sqlite"  # under --out
_CACHE_UNDER_OUT = Path("\x00cache-under-out")  # the value of a bare --cache (no user path can hold NUL)


def _add_run_options(parser: argparse.ArgumentParser, command: str) -> None:
    parser.add_argument("--out", type=path_arg, default=TRANSCRIPTS_ROOT, metavar="DIR",
                        help="folder of runs; transcripts go to DIR/RUN/")
    parser.add_argument("--run", type=check_run_name, metavar="NAME",
                        help=f"run name (default: {command}-<UTC date-time>-<random>); an existing run is refused")
    parser.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")


def build_parser() -> ArenaParser:
    parser, sub = top_level(ArenaParser)

    match = sub.add_parser("match", help=COMMANDS["match"])
    match.add_argument("--scenario", required=True, help="scenario id (see: arena scenarios list)")
    match.add_argument("--target", required=True, help="model spec, e.g. reference/oracle")
    match.add_argument("--mode", choices=["patient", "clinician"],
                       help="who the simulator plays (default: the scenario's first mode)")
    match.add_argument("--seed", type=seed_arg, default=0, help="simulator seed")
    match.add_argument("--max-turns", type=turns_arg, default=DEFAULT_MAX_TURNS, metavar="N",
                       help="simulator turn budget, 1..50")
    match.add_argument("--library", type=path_arg, default=SCENARIOS_ROOT, metavar="ROOT",
                       help="scenario library root holding cases/ and images/ (default: the built-in one)")
    match.add_argument("--simulator", default=RULE_BASED, metavar="SPEC",
                       help=f"who voices the patient or clinician: {RULE_BASED} (templates, offline) or a model spec")
    match.add_argument("--judge", action="append", metavar="SPEC",
                       help=f"who grades: {RUBRIC} (the offline rubric judge) or a model spec; repeat for a "
                            f"jury (median of the judges) (default: {RUBRIC})")
    add_models_file_option(match)
    match.add_argument("--base-url", metavar="URL", help="base URL for openai-compatible/<model> specs "
                       "(else OPENAI_COMPATIBLE_BASE_URL or an endpoint of the models file)")
    match.add_argument("--cache", nargs="?", const=_CACHE_UNDER_OUT, type=path_arg, metavar="PATH",
                       help=f"reuse identical model calls from a SQLite response cache (default path: "
                            f"DIR/{DEFAULT_CACHE}, DIR being --out)")
    _add_run_options(match, "match")

    demo = sub.add_parser("demo", help=COMMANDS["demo"])
    demo.add_argument("--seed", type=seed_arg, default=0, help="first simulator seed")
    demo.add_argument("--seeds", type=int_in(1, 1000), default=1, metavar="N", help="seeds per scenario")
    demo.add_argument("--all", action="store_true", help="every scenario of the library, not just the 4 starters")
    _add_run_options(demo, "demo")

    cli_scenarios.add_parser(sub)
    cli_models.add_parser(sub)
    cli_serve.add_parser(sub)
    cli_agreement.add_parser(sub)
    cli_rejudge.add_parser(sub)
    cli_tournament.add_parser(sub)
    cli_replay.add_parser(sub)
    cli_replay.add_rerun_parser(sub)
    cli_replay.add_fork_parser(sub)
    cli_report.add_parser(sub)
    cli_bench.add_parser(sub)
    return parser


def _summary(transcript: Transcript, path: Path) -> dict[str, object]:
    verdict = transcript.verdict
    return {
        "transcript": str(path),
        "run": transcript.run,
        "scenario_id": transcript.scenario_id,
        "target": transcript.target,
        "mode": transcript.mode.value,
        "seed": transcript.seed,
        "termination": transcript.termination.value,
        "moves": [t.move.kind.value for t in transcript.simulator_turns() if t.move],
        "scores": {d.value: verdict.score(d) for d in DIMENSIONS} if verdict else None,
        "simulator": transcript.simulator,
        "judge": transcript.judge,
        "judge_error": transcript.judge_error.message if transcript.judge_error else None,
        "simulator_faults": [f.rule for f in transcript.simulator_faults],
        "usage": transcript.usage.model_dump(mode="json") if transcript.usage else None,
    }


def _print_match(console: Console, transcript: Transcript, path: Path) -> None:
    console.print(Text.assemble(
        (transcript.scenario_id, "bold"), " · target ", (transcript.target, "cyan"),
        f" · {transcript.mode.value} · seed {transcript.seed} · ended: {transcript.termination.value}",
    ))
    for turn in transcript.turns:
        who = "SIM " if turn.role == "simulator" else "TGT "
        label = f"[{turn.move.kind.value}] " if turn.move else ""
        line = Text(f"{turn.index:>2} {who}{label}")
        cut = len(turn.text) > TURN_PREVIEW_CHARS
        line.append(turn.text[:TURN_PREVIEW_CHARS] + ("…" if cut else ""))
        if turn.truncated_chars:
            line.append(f" ({turn.truncated_chars} characters over the answer limit were cut)", style="yellow")
        if turn.images:
            line.append(f" (+images: {', '.join(turn.images)})", style="dim")
        console.print(line, soft_wrap=True)
    for error in transcript.errors:
        console.print(Text(f"infrastructure error (attempt {error.attempt}): {error.error_type}: {error.message}",
                           style="red"), soft_wrap=True)
    if transcript.verdict:
        table = Table(title=f"Verdict ({transcript.verdict.judge})")
        table.add_column("dimension", no_wrap=True)
        table.add_column("score", justify="right")
        table.add_column("rationale")
        for dimension in DIMENSIONS:
            score = transcript.verdict.scores[dimension]
            table.add_row(dimension.value, str(score.score), score.rationale)
        console.print(table)
    elif transcript.judge_error:
        console.print(Text(f"not judged: judge error ({transcript.judge_error.message}); no score recorded",
                           style="yellow"), soft_wrap=True)
    else:
        console.print(Text("not judged: infrastructure error (not counted as a model loss)", style="yellow"))
    for fault in transcript.simulator_faults:
        console.print(Text(f"simulator fault at turn {fault.turn_index}: {fault.rule} ({fault.detail}); the template "
                           "message was sent instead", style="yellow"), soft_wrap=True)
    if transcript.usage and (transcript.usage.calls or transcript.usage.cached):
        u = transcript.usage
        cost = "unknown cost" if u.cost_usd is None else f"${u.cost_usd:.4f}"
        console.print(Text(f"model calls: {u.calls} made, {u.cached} from cache; tokens {u.input_tokens} in, "
                           f"{u.output_tokens} out; {cost}"), soft_wrap=True)
    console.print(Text(f"transcript: {path}"), soft_wrap=True)


async def _match(args: argparse.Namespace, console: Console) -> int:
    config = with_base_url(models_config(args.models_file), args.base_url)
    judges = args.judge or [RUBRIC]
    check_specs([args.target], args.simulator, judges, config)
    plan = plan_encounter(ScenarioLibrary(args.library), args.scenario, args.target, mode=args.mode,
                          seed=args.seed, max_turns=args.max_turns, config=config)
    run = args.run or new_run_name("match")
    prepare_output_dir(args.out)  # before the cache is opened: a bad --out costs nothing
    cache = args.out / DEFAULT_CACHE if args.cache is _CACHE_UNDER_OUT else args.cache
    cast: Cast = build_cast(simulator=args.simulator, judge=judges, config=config, cache_path=cache)
    try:
        run_dir = prepare_run_dir(args.out, run)
        transcript = await play(plan, cast, run=run)
        cache_failures = cast.gateway.cache.failures if cast.gateway.cache else 0
    finally:
        try:
            await cast.aclose()
        finally:
            cast.close()
    path = save_transcript(transcript, run_dir)
    if args.json:
        print(dumps_json({**_summary(transcript, path), "cache_failures": cache_failures}))
    else:
        _print_match(console, transcript, path)
        if cache_failures:
            console.print(Text(f"response cache: {cache_failures} reads or writes failed (locked or damaged "
                               "file); those calls were made, not served", style="yellow"), soft_wrap=True)
    return 0


def _demo(args: argparse.Namespace, console: Console) -> int:
    """A real offline tournament: every reference model, round robin on the starter scenarios (or
    all), judged by the rubric judge; then the leaderboard, the scores, calibration and the moves."""
    flags = {"models": ",".join(DEMO_MODELS), "scenarios": "all" if args.all else ",".join(DEMO_SCENARIOS),
             "seeds": args.seeds, "seed": args.seed, "scheduler": "round-robin", "concurrency": 1,
             "run": args.run or new_run_name("demo"), "out": str(args.out)}
    tournament, board = cli_tournament.run_tournament(
        flags, None, resume=False, json_out=args.json, console=console, command="demo", quiet=True)
    library = tournament.library
    results = [(load_transcript(tournament.run_dir / e["transcript"]), tournament.run_dir / e["transcript"])
               for e in _stored_encounters(tournament)]
    table_rows = model_means(results)
    calibration = calibration_rows(library, [t for t, _ in results])
    usage = sum((t.usage for t, _ in results if t.usage), UsageSummary())
    if args.json:
        print(dumps_json({"run": tournament.run, "run_dir": str(tournament.run_dir), "leaderboard": board,
                          "models": table_rows, "calibration": calibration, "usage": usage.model_dump(mode="json"),
                          "transcripts": [_summary(t, p) for t, p in results]}))
        return 0
    ids = list(dict.fromkeys(t.scenario_id for t, _ in results))
    cli_tournament.print_board(console, board, f"Demo tournament: {len(DEMO_MODELS)} reference models, round robin "
                                               f"on {len(ids)} scenarios (offline rubric judge)")
    console.print(calibration_table(calibration))
    console.print(Text("\nAdaptive questioning", style="bold"),
                  Text(" (simulator moves per target, same scenario and seed):"))
    for scenario_id in ids:
        first = next(t for t, _ in results if t.scenario_id == scenario_id)
        console.print(Text.assemble((scenario_id, "bold"), f" ({first.mode.value}, seed {first.seed})"))
        for transcript, _ in results:
            if transcript.scenario_id == scenario_id and transcript.seed == first.seed:
                moves = " → ".join(
                    m.kind.value + (f"({m.target_id})" if m.target_id and m.kind.value == "probe_finding" else "")
                    for t in transcript.simulator_turns() if (m := t.move)
                )
                console.print(Text(f"  {transcript.target:<24} {moves}"), soft_wrap=True)
    m = board["matches"]
    console.print(Text(f"\n{m['finished']} matches over {len(results)} encounters ({usage.calls} model calls, "
                       f"{usage.input_tokens} tokens in, {usage.output_tokens} out)"), soft_wrap=True)
    console.print(Text(f"run folder: {tournament.run_dir}/ (leaderboard.json, arena.sqlite, transcripts); "
                       f"see it again with: arena leaderboard {tournament.run_dir}; as a page with every conversation: "
                       f"arena report {tournament.run_dir}"), soft_wrap=True)
    return 0


def _stored_encounters(tournament: Tournament) -> list[dict[str, Any]]:
    store = Store(tournament.run_dir / STORE_NAME)
    try:
        return store.encounters()
    finally:
        store.close()


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = build_parser()
    tokens = list(sys.argv[1:] if argv is None else argv)
    precheck_options(parser, tokens)
    args, extras = parser.parse_known_args(tokens)
    require_command(parser, args.command)
    chosen = cli_scenarios.chosen_parser(parser, args)
    if args.command == "models":
        require_command(chosen, args.models_command, "subcommand")
        chosen = cli_models.subparser(args.models_command) or chosen
    reject_extras(chosen, extras)
    return args


def _run(argv: Sequence[str] | None) -> int:
    args = parse_args(argv)
    console = make_console()
    handlers: dict[str, Callable[[argparse.Namespace, Console], int]] = {
        "scenarios": cli_scenarios.run, "models": cli_models.run, "serve": cli_serve.run,
        "agreement": cli_agreement.run, "rejudge": cli_rejudge.run, "replay": cli_replay.run,
        "rerun": cli_replay.run_rerun, "fork": cli_replay.run_fork, "report": cli_report.run,
        "tournament": cli_tournament.run, "leaderboard": cli_tournament.run, "export": cli_tournament.run,
        "bench": cli_bench.run, "demo": _demo, "match": lambda a, c: asyncio.run(_match(a, c)),
    }
    return handlers[args.command](args, console)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every outcome is an exit code and at most one line on stderr.

    2 usage error, 1 an invalid input file or output that cannot be written, 130 interrupted,
    141 closed pipe. ``ARENA_DEBUG=1`` re-raises an output error, for its traceback."""
    try:
        code = _run(argv)
        if sys.stdout is not None:
            sys.stdout.flush()  # a write error shows here, not in the interpreter's final flush
        return code
    except UsageError as exc:
        report(error_line(str(exc)))
        return 2
    except ArenaError as exc:  # an input file that is not valid
        report(error_line(str(exc)))
        return 1
    except KeyboardInterrupt:
        report("arena: interrupted")
        return 130
    except BrokenPipeError:
        # The reader went away (``arena ... | head``): stop quietly, as a shell tool would.
        silence(sys.stdout)
        return 141
    except OSError as exc:  # stdout cannot be written (a full disk, /dev/full, an I/O error)
        if os.environ.get("ARENA_DEBUG") == "1":
            raise
        silence(sys.stdout)
        what = "cannot write output" if exc.filename is None else f"cannot use {clip_path(exc.filename)}"
        report(error_line(f"{what}: {exception_text(exc)}"))
        return 1


if __name__ == "__main__":
    sys.exit(main())
