"""The commands of ``arena`` and their one-line help, in the order ``arena --help`` lists them.

Standard library only: ``arena``, ``arena --help`` and ``arena --version`` are answered from this
table without importing any command (LangGraph, the SDKs and numpy take about two seconds to
import), and each command's parser takes its help line from here, so the two never differ.
"""

from __future__ import annotations

from typing import Any

COMMANDS: dict[str, str] = {
    "match": "one encounter: simulator vs a target, judged; writes a transcript",
    "demo": "an offline tournament of every reference model on the starter scenarios, ending with the leaderboard",
    "scenarios": "the case library: list, show, validate, schema, import",
    "models": "model providers, configured endpoints and reference models",
    "serve": "serve the reference models over an OpenAI-compatible HTTP API (loopback only)",
    "agreement": "judge-human and human-human agreement per dimension (kappa, Spearman, alpha)",
    "rejudge": "grade stored transcripts again with another judge; no target or simulator call",
    "tournament": ("rate models against each other: matches on shared scenarios and seeds, Bradley-Terry ratings with "
                   "intervals; resumable"),
    "leaderboard": "the ratings of a tournament run, with intervals",
    "export": "export a run for other tools",
    "replay": "show a stored transcript turn by turn, in full, safely",
    "rerun": "re-execute a transcript from its recorded responses; exit 1 unless the new transcript is byte-identical",
    "fork": ("what if another model had answered from turn K on: replay the turns before K, play the rest with "
             "--target, judge, save linked to the parent"),
    "report": ("a run as one self-contained HTML page: leaderboard, charts, matrices, calibration, every transcript "
               "with its images, judge reasons and forks"),
    "bench": ("absolute scores with intervals, image/record/dialogue ablations and subgroup deltas (IMCBench-style); "
              "resumable"),
}

DESCRIPTION = "Arena for image-grounded clinical conversations with multimodal models."
QUICK: tuple[list[str], ...] = ([], ["-h"], ["--help"], ["--version"])  # quick() answers these


def top_level(parser_class: type[Any]) -> tuple[Any, Any]:
    """The ``arena`` parser and its command subparsers action (the commands not added yet)."""
    from arena.cli_parser import version

    parser = parser_class(prog="arena", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"arena {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=parser_class)
    return parser, sub


def quick(argv: list[str]) -> int:
    """``arena``, ``arena --help``, ``arena --version``: the same output and exit code as the full
    parser (a test compares them), from this table alone."""
    from arena.cli_parser import ArenaParser, require_command
    from arena.entry import report
    from arena.errors import UsageError
    from arena.terminal import error_line

    parser, sub = top_level(ArenaParser)
    for name, text in COMMANDS.items():
        sub.add_parser(name, help=text)
    args = parser.parse_args(argv)  # --help and --version print and exit here
    try:
        require_command(parser, args.command)
    except UsageError as exc:
        report(error_line(str(exc)))
        return 2
    return 0  # pragma: no cover - QUICK holds no command
