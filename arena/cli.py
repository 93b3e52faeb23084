"""The ``arena`` command line. User errors print one line and exit with code 2."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from arena import cli_scenarios
from arena.clients.registry import DEMO_MODELS, check_spec
from arena.encounter.run import DEFAULT_MAX_TURNS
from arena.errors import ArenaError
from arena.runner import play, save_transcript
from arena.schemas.scenario import Dimension
from arena.schemas.transcript import Transcript
from scenarios.library import SCENARIOS_ROOT, ScenarioLibrary

DIMENSIONS = list(Dimension)
DEMO_SCENARIOS = ("derm-changing-mole", "derm-ambiguous-lesion", "cxr-multiple-nodules", "xr-tibia-lucent-lesion")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="arena", description="Arena for image-grounded clinical conversations with multimodal models."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    match = sub.add_parser("match", help="one encounter: simulator vs a target, judged; writes a transcript")
    match.add_argument("--scenario", required=True, help="scenario id (see scenarios/cases)")
    match.add_argument("--target", required=True, help="model spec, e.g. reference/oracle")
    match.add_argument("--mode", choices=["patient", "clinician"], help="default: the scenario's first mode")
    match.add_argument("--seed", type=int, default=0, help="simulator seed (default 0)")
    match.add_argument("--max-turns", type=int, default=DEFAULT_MAX_TURNS, help="simulator turn budget")
    match.add_argument("--out", type=Path, default=Path("transcripts/matches"), help="output directory")
    match.add_argument("--json", action="store_true", help="print a machine-readable summary")
    match.add_argument("--library", type=Path, default=SCENARIOS_ROOT,
                       help="scenario library root holding cases/ and images/ (default: the built-in one)")

    demo = sub.add_parser("demo", help="every reference model through every starter scenario, offline")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--out", type=Path, default=Path("transcripts/demo"))
    demo.add_argument("--json", action="store_true", help="print the score table as JSON")
    demo.add_argument("--all", action="store_true", help="every scenario of the library, not just the starters")

    cli_scenarios.add_parser(sub)
    return parser


def _summary(transcript: Transcript, path: Path) -> dict[str, object]:
    verdict = transcript.verdict
    return {
        "transcript": str(path),
        "scenario_id": transcript.scenario_id,
        "target": transcript.target,
        "mode": transcript.mode.value,
        "seed": transcript.seed,
        "termination": transcript.termination.value,
        "moves": [t.move.kind.value for t in transcript.simulator_turns() if t.move],
        "scores": {d.value: verdict.score(d) for d in DIMENSIONS} if verdict else None,
    }


def _print_match(console: Console, transcript: Transcript, path: Path) -> None:
    console.print(
        f"[bold]{transcript.scenario_id}[/] · target [cyan]{transcript.target}[/] · "
        f"{transcript.mode.value} · seed {transcript.seed} · ended: {transcript.termination.value}"
    )
    for turn in transcript.turns:
        who = "SIM " if turn.role == "simulator" else "TGT "
        label = f"[{turn.move.kind.value}] " if turn.move else ""
        images = f" (+images: {', '.join(turn.images)})" if turn.images else ""
        line = Text(f"{turn.index:>2} {who}{label}")
        line.append(turn.text[:220] + ("…" if len(turn.text) > 220 else ""))  # untrusted: no markup
        line.append(images, style="dim")
        console.print(line, soft_wrap=True)
    for error in transcript.errors:
        console.print(Text(f"infrastructure error (attempt {error.attempt}): {error.message}", style="red"))
    if transcript.verdict:
        table = Table(title=f"Verdict ({transcript.verdict.judge})")
        table.add_column("dimension")
        table.add_column("score", justify="right")
        table.add_column("rationale")
        for dimension in DIMENSIONS:
            score = transcript.verdict.scores[dimension]
            table.add_row(dimension.value, str(score.score), Text(score.rationale))
        console.print(table)
    else:
        console.print("[yellow]not judged: infrastructure error (not counted as a model loss)[/]")
    console.print(f"transcript: {path}")


async def _match(args: argparse.Namespace, console: Console) -> int:
    library = ScenarioLibrary(args.library)
    check_spec(args.target)
    transcript = await play(library, args.scenario, args.target, mode=args.mode, seed=args.seed,
                            max_turns=args.max_turns)
    path = save_transcript(transcript, args.out)
    if args.json:
        print(json.dumps(_summary(transcript, path), indent=2))
    else:
        _print_match(console, transcript, path)
    return 0


async def _demo(args: argparse.Namespace, console: Console) -> int:
    library = ScenarioLibrary()
    scenarios = library.all() if args.all else [library.get(sid) for sid in DEMO_SCENARIOS]
    results: list[tuple[Transcript, Path]] = []
    with console.status("playing the demo…") if not args.json else _Null():
        for scenario in scenarios:
            for spec in DEMO_MODELS:
                transcript = await play(library, scenario.id, spec, seed=args.seed)
                results.append((transcript, save_transcript(transcript, args.out)))
    table_rows = _model_means(results)
    if args.json:
        print(json.dumps({"models": table_rows, "transcripts": [_summary(t, p) for t, p in results]}, indent=2))
        return 0
    table = Table(title=f"Demo: {len(scenarios)} scenarios × {len(DEMO_MODELS)} reference models "
                        f"(offline rubric judge, mean 1-5)")
    table.add_column("model")
    for dimension in DIMENSIONS:
        table.add_column(dimension.value, justify="right")
    table.add_column("overall", justify="right")
    for row in table_rows:
        scores = row["scores"]
        assert isinstance(scores, dict)
        table.add_row(str(row["model"]), *[f"{scores[d.value]:.2f}" for d in DIMENSIONS],
                      f"{row['overall']:.2f}")
    console.print(table)
    console.print("\n[bold]Adaptive questioning[/] (simulator moves per target, same scenario and seed):")
    for scenario in scenarios:
        console.print(f"[bold]{scenario.id}[/] ({scenario.default_mode.value})")
        for transcript, _ in results:
            if transcript.scenario_id == scenario.id:
                moves = " → ".join(
                    m.kind.value + (f"({m.target_id})" if m.target_id and m.kind.value == "probe_finding" else "")
                    for t in transcript.simulator_turns() if (m := t.move)
                )
                console.print(Text(f"  {transcript.target:<24} {moves}"), soft_wrap=True)
    console.print(f"\n{len(results)} transcripts written to {args.out}/")
    return 0


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _model_means(results: list[tuple[Transcript, Path]]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for spec in dict.fromkeys(t.target for t, _ in results):
        verdicts = [t.verdict for t, _ in results if t.target == spec and t.verdict]
        if not verdicts:
            continue
        means = {d.value: sum(v.score(d) for v in verdicts) / len(verdicts) for d in DIMENSIONS}
        rows.append({"model": spec, "n": len(verdicts), "scores": means,
                     "overall": sum(means.values()) / len(means)})
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    console = Console()
    if not console.is_terminal:  # piped or captured: do not squeeze tables into 80 columns
        console.width = max(console.width, 120)
    handlers = {"match": _match, "demo": _demo}
    try:
        if args.command == "scenarios":
            return cli_scenarios.run(args, console)
        return asyncio.run(handlers[args.command](args, console))
    except ArenaError as exc:
        print(f"arena: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("arena: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
