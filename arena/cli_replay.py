"""``arena replay TRANSCRIPT [--step] [--full]``: a stored conversation in the terminal; ``arena rerun
TRANSCRIPT``: re-executed from its recorded responses (:mod:`arena.rerun`).

Every turn is shown whole (role, time, latency, tokens; the simulator's move and its reason; the
images shown with the sha256 of the bytes sent), then the verdict (scores, rationales, evidence
turns, criteria, flags) and the closing differential. Turns a dimension cites as evidence are
marked. ``--full`` adds the simulator's reading of each answer and every failed call attempt.
``--step`` waits for Enter between turns (end of input stops waiting). Model text goes through
:class:`arena.terminal.SafeConsole`: controls and terminal escapes are made visible and inert.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from arena.cli_commands import COMMANDS
from arena.cli_models import add_models_file_option, models_config
from arena.cli_parser import int_in, path_arg, seed_arg
from arena.echo import clip
from arena.records import load_transcript
from arena.schemas.calls import ImageRef
from arena.schemas.transcript import Transcript, Turn
from arena.terminal import dumps_json
from scenarios.library import SCENARIOS_ROOT, ScenarioLibrary


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    replay = sub.add_parser("replay", help=COMMANDS["replay"])
    replay.add_argument("transcript", type=path_arg, metavar="TRANSCRIPT", help="a transcript JSON file")
    replay.add_argument("--step", action="store_true", help="wait for Enter between turns")
    replay.add_argument("--full", action="store_true",
                        help="also the simulator's reading of every answer and every failed call attempt")


def add_rerun_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    rerun = sub.add_parser("rerun", help=COMMANDS["rerun"])
    rerun.add_argument("transcript", type=path_arg, metavar="TRANSCRIPT", help="a transcript JSON file")
    rerun.add_argument("--library", type=path_arg, default=SCENARIOS_ROOT, metavar="ROOT",
                       help="scenario library root (default: the built-in one)")
    add_models_file_option(rerun)
    rerun.add_argument("--base-url", metavar="URL", help="base URL of openai-compatible/<model> specs (read for the "
                       "endpoint's settings; nothing is called)")
    rerun.add_argument("--json", action="store_true", help="print the result as JSON")


def add_fork_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    fork = sub.add_parser("fork", help=COMMANDS["fork"])
    fork.add_argument("transcript", type=path_arg, metavar="TRANSCRIPT", help="the parent transcript JSON file")
    fork.add_argument("--at-turn", type=int_in(1, 10_000), required=True, metavar="K",
                      help="the first turn of the branch (turns 0..K-1 are the parent's)")
    fork.add_argument("--target", required=True, metavar="SPEC", help="the model that plays the branch")
    fork.add_argument("--seed", type=seed_arg, metavar="N", help="simulator seed of the branch (default: the parent's)")
    fork.add_argument("--out", type=path_arg, metavar="DIR", help="where to save it (default: beside the parent)")
    fork.add_argument("--judge", action="append", metavar="SPEC", help="who grades the branch (default: rubric)")
    fork.add_argument("--library", type=path_arg, default=SCENARIOS_ROOT, metavar="ROOT",
                      help="scenario library root (default: the built-in one)")
    add_models_file_option(fork)
    fork.add_argument("--base-url", metavar="URL", help="base URL of openai-compatible/<model> specs")
    fork.add_argument("--json", action="store_true", help="print the branch's path and scores as JSON")


def run_fork(args: argparse.Namespace, console: Console) -> int:
    from arena.composition import RUBRIC, RULE_BASED, check_specs, with_base_url
    from arena.rerun import fork

    config = with_base_url(models_config(args.models_file), args.base_url)
    check_specs([args.target], RULE_BASED, args.judge or [RUBRIC], config)
    branch, where = asyncio.run(fork(Path(args.transcript), at_turn=args.at_turn, target=args.target, seed=args.seed,
                                     library=ScenarioLibrary(args.library), config=config, judge=args.judge,
                                     out=args.out))
    scores = {d.value: s.score for d, s in branch.verdict.scores.items()} if branch.verdict else None
    if args.json:
        print(dumps_json({"transcript": str(where), "encounter_id": branch.encounter_id,
                          "parent": branch.parent.model_dump(mode="json") if branch.parent else None,
                          "termination": branch.termination.value, "scores": scores}))
        return 0
    replay(branch, console)
    console.print(Text(f"fork of {args.transcript} at turn {args.at_turn}: {where}"), soft_wrap=True)
    return 0


def run_rerun(args: argparse.Namespace, console: Console) -> int:
    from arena.composition import with_base_url
    from arena.rerun import rerun

    config = with_base_url(models_config(args.models_file), args.base_url)
    result = asyncio.run(rerun(Path(args.transcript), library=ScenarioLibrary(args.library), config=config))
    diff = result.first_difference
    if args.json:
        print(dumps_json({"transcript": str(args.transcript), "identical": result.same,
                          "first_difference": None if diff is None else
                          {"line": diff[0], "stored": clip(diff[1], 500), "rerun": clip(diff[2], 500)}}))
    elif result.same:
        console.print(Text(f"identical: {args.transcript} re-executed from its recorded responses, byte for byte"),
                      soft_wrap=True)
    else:
        assert diff is not None
        console.print(Text(f"differs: {args.transcript}, first at line {diff[0]}", style="bold red"), soft_wrap=True)
        console.print(Text(f"  stored: {clip(diff[1], 500)}"), soft_wrap=True)
        console.print(Text(f"  rerun:  {clip(diff[2], 500)}"), soft_wrap=True)
    return 0 if result.same else 1


def sent_images(transcript: Transcript) -> dict[str, ImageRef]:
    """Image id -> the image as last sent (sha256 of the bytes, size), from the recorded calls."""
    out: dict[str, ImageRef] = {}
    for call in transcript.calls:
        for message in call.request.messages:
            for part in message.parts:
                if isinstance(part, ImageRef):
                    out[part.image_id] = part
    return out


def evidence_of(transcript: Transcript) -> dict[int, list[str]]:
    """Turn index -> the dimensions whose verdict cites it."""
    cited: dict[int, list[str]] = defaultdict(list)
    if transcript.verdict:
        for dimension, score in transcript.verdict.scores.items():
            for index in score.evidence_turns:
                cited[index].append(dimension.value)
    return cited


def _header(console: Console, t: Transcript) -> None:
    console.print(Text.assemble((t.scenario_id, "bold"), " · target ", (t.target, "cyan"),
                                f" · {t.mode.value} · seed {t.seed} · simulator {t.simulator} · ended: "
                                f"{t.termination.value}"), soft_wrap=True)
    usage = t.usage
    cost = "" if usage is None or usage.cost_usd is None else f", ${usage.cost_usd:.4f}"
    tokens = f"; {usage.calls} calls, {usage.input_tokens} tokens in, {usage.output_tokens} out{cost}" if usage else ""
    console.print(Text(f"encounter {t.encounter_id}" + (f" · run {t.run}" if t.run else "")
                       + (f" · match {t.match_id}" if t.match_id else "")
                       + f" · {t.started_at.isoformat()} .. {t.finished_at.isoformat()}{tokens}", style="dim"),
                  soft_wrap=True)


def _turn(console: Console, t: Transcript, turn: Turn, images: dict[str, ImageRef], cited: list[str],
          full: bool) -> None:
    who = "SIMULATOR" if turn.role == "simulator" else "TARGET"
    head = Text(f"[{turn.index}] {who}", style="bold magenta" if turn.role == "simulator" else "bold cyan")
    head.append(f"  {turn.timing.started_at.isoformat()}", style="dim")
    if turn.role == "target":
        head.append(f"  {turn.timing.latency_ms:.0f} ms, {turn.usage.output_tokens} tokens out", style="dim")
    if cited:
        head.append(f"  ◆ evidence for {', '.join(cited)}", style="bold yellow")
    console.print(head, soft_wrap=True)
    if turn.move:
        target = f" ({turn.move.target_id})" if turn.move.target_id else ""
        console.print(Text(f"    move: {turn.move.kind.value}{target}" + (f" — why: {turn.move.reason}"
                                                                         if turn.move.reason else ""),
                           style="magenta"), soft_wrap=True)
    for image_id in turn.images:
        ref = images.get(image_id)
        shown = (f"    image {image_id}: sha256 {ref.sha256} ({ref.media_type}, {ref.width}x{ref.height}, "
                 f"{ref.bytes} bytes{', resized' if ref.resized else ''})" if ref else f"    image {image_id}")
        console.print(Text(shown, style="green"), soft_wrap=True)
    if turn.disclosed_facts:
        console.print(Text(f"    facts revealed: {', '.join(turn.disclosed_facts)}", style="dim"), soft_wrap=True)
    console.print(Text(turn.text), soft_wrap=True)  # whole: a replay never cuts model text
    if turn.truncated_chars:
        console.print(Text(f"    ({turn.truncated_chars} characters over the answer limit were cut when it was "
                           "received)", style="yellow"), soft_wrap=True)
    if full and turn.assessment:
        a = turn.assessment
        parts = [f"affirmed {', '.join(a.findings_mentioned) or '-'}", f"hedged {', '.join(a.findings_hedged) or '-'}",
                 f"negated {', '.join(a.findings_negated) or '-'}",
                 f"diagnosis {a.diagnosis_stated or '-'}{' (correct)' if a.diagnosis_correct else ''}",
                 f"confidence {'-' if a.confidence is None else f'{a.confidence:.2f}'}"]
        if a.flags:
            parts.append(f"flags {', '.join(a.flags)}")
        console.print(Text("    reading: " + "; ".join(parts), style="dim"), soft_wrap=True)
    console.print()


def _verdict(console: Console, t: Transcript, full: bool) -> None:
    if t.verdict is None:
        why = (f"judge error: {t.judge_error.message}" if t.judge_error
               else "infrastructure error (not counted as a model loss)" if t.termination.is_infrastructure
               else "not judged")
        console.print(Text(f"no verdict: {why}", style="yellow"), soft_wrap=True)
    else:
        v = t.verdict
        table = Table(title=f"Verdict ({v.judge}); overall {v.overall:.2f}"
                      + (f", rubric {v.rubric_score:.2f}" if v.rubric_score is not None else ""))
        table.add_column("dimension", no_wrap=True)
        table.add_column("score", justify="right")
        table.add_column("evidence", no_wrap=True)
        table.add_column("rationale")
        for dimension, score in v.scores.items():
            table.add_row(dimension.value, str(score.score), ", ".join(str(i) for i in score.evidence_turns) or "-",
                          score.rationale)
        console.print(table)
        met = [c for c in v.criteria if c.met]
        if v.criteria:
            console.print(Text(f"criteria met: {len(met)} of {len(v.criteria)}: "
                               + ", ".join(f"{c.id} ({c.points:+d})" for c in met)), soft_wrap=True)
        if v.flags:
            console.print(Text(f"flags: {', '.join(v.flags)}", style="yellow"), soft_wrap=True)
    diff = t.closing_differential
    if diff is not None:
        entries = ", ".join(f"{e.name} {e.probability:.0%}" for e in diff.entries)
        console.print(Text(f"closing differential ({diff.status}): {entries or '-'}"
                           + (f" ({diff.note})" if diff.note else "")), soft_wrap=True)
    for fault in t.simulator_faults:
        console.print(Text(f"simulator fault at turn {fault.turn_index}: {fault.rule} ({fault.detail})",
                           style="yellow"), soft_wrap=True)
    attempts = [(c, a) for c in t.calls for a in c.attempts if a.outcome == "error"]
    if attempts and full:
        for call, attempt in attempts:
            console.print(Text(f"call {call.call_id} ({call.role}) attempt {attempt.attempt}: "
                               f"{attempt.error_class} {attempt.message}", style="red"), soft_wrap=True)
    elif attempts:
        console.print(Text(f"{len(attempts)} failed call attempts (see --full)", style="red"))


def replay(transcript: Transcript, console: Console, *, full: bool = False,
           wait: Callable[[], bool] | None = None) -> None:
    """Print ``transcript``; ``wait`` is called between turns and returns False to stop waiting."""
    images = sent_images(transcript)
    cited = evidence_of(transcript)
    _header(console, transcript)
    console.print()
    for k, turn in enumerate(transcript.turns):
        _turn(console, transcript, turn, images, cited.get(turn.index, []), full)
        if wait is not None and k < len(transcript.turns) - 1 and not wait():
            wait = None
    _verdict(console, transcript, full)


def _enter() -> bool:
    print("-- Enter for the next turn --", file=sys.stderr, flush=True)
    return bool(sys.stdin.readline())  # end of input: stop waiting, show the rest


def run(args: argparse.Namespace, console: Console) -> int:
    transcript = load_transcript(Path(args.transcript))
    replay(transcript, console, full=args.full, wait=_enter if args.step else None)
    return 0
