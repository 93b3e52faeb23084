"""``arena report RUN [--out FILE] [--markdown] [--library ROOT]``: a tournament run or a match
folder as one self-contained HTML page (or a Markdown file): see :mod:`arena.report`."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.text import Text

from arena.cli_commands import COMMANDS
from arena.cli_parser import path_arg
from arena.echo import clip_path
from arena.errors import UsageError
from arena.files import atomic_write, prepare_output_file
from arena.runner import RUN_MARKER, TRANSCRIPTS_ROOT
from arena.tournament.store import STORE_NAME

REPORT_NAMES = ("report.html", "report.md")


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    report = sub.add_parser("report", help=COMMANDS["report"])
    report.add_argument("run_path", type=path_arg, metavar="RUN",
                        help="a run folder (tournament, demo, match or fork), or a run name under --runs")
    report.add_argument("--out", type=path_arg, metavar="FILE", help="where to write it (default: RUN/report.html, or "
                        "RUN/report.md with --markdown)")
    report.add_argument("--markdown", action="store_true", help="write Markdown instead of HTML (no charts or images)")
    report.add_argument("--library", type=path_arg, metavar="ROOT", help="scenario library with the run's images "
                        "(default: the run's own, else the built-in one)")
    report.add_argument("--runs", type=path_arg, default=TRANSCRIPTS_ROOT, metavar="DIR",
                        help=f"where run names are looked up (default: {TRANSCRIPTS_ROOT})")


def _target(args: argparse.Namespace, folder: Path) -> Path:
    """Where the report goes, checked before any work. Inside the run folder only a report name
    (``*.html``, ``*.md``) is accepted: a ``*.json`` would be read back as a transcript, and the
    store, its journal and the run marker are the run itself."""
    target = prepare_output_file(Path(args.out) if args.out else folder / REPORT_NAMES[1 if args.markdown else 0])
    inside = target.parent.resolve() == folder.resolve()
    if inside and (target.suffix.lower() not in (".html", ".htm", ".md") or target.name.startswith(STORE_NAME)
                   or target.name == RUN_MARKER):
        raise UsageError(f"--out {clip_path(target)} would overwrite part of the run in {clip_path(folder)}; valid: "
                         "a .html or .md file (default RUN/report.html), or a path outside the run folder")
    return target


def run(args: argparse.Namespace, console: Console) -> int:
    from arena.report.gather import gather, resolve_run
    from arena.report.render import render

    folder = resolve_run(Path(args.run_path), Path(args.runs))
    target = _target(args, folder)  # before any work: an unwritable --out costs nothing
    report = gather(folder, library_root=Path(args.library) if args.library else None)
    text = render(report, markdown=args.markdown)
    atomic_write(target, text.encode("utf-8", "replace"))  # every value is neutralised; this is a last guard
    for note in report.notes:
        console.print(Text(f"note: {note}", style="yellow"), soft_wrap=True)
    console.print(Text(f"report of {report.kind} {report.name}: {len(report.views())} transcripts, "
                       f"{len(report.matches)} matches, {len(text.encode()) / 1e6:.1f} MB written to {target}"),
                  soft_wrap=True)
    return 0
