"""``arena scenarios ...``: list, show, validate, schema, import."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from arena.cli_commands import COMMANDS
from arena.cli_parser import path_arg, require_command
from arena.composition import leak_finder
from arena.schemas.scenario import Scenario
from arena.terminal import dumps_json, neutralise
from scenarios.library import SCENARIOS_ROOT, ScenarioLibrary, validate_paths

IMPORT_ROOT = Path("imported")
_PARSERS: dict[str, argparse.ArgumentParser] = {}


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    scen = sub.add_parser("scenarios", help=COMMANDS["scenarios"])
    _PARSERS[""] = scen
    ssub = scen.add_subparsers(dest="scenarios_command", metavar="SUBCOMMAND", parser_class=type(scen))
    lst = ssub.add_parser("list", help="list scenarios")
    lst.add_argument("--json", action="store_true", help="machine-readable list on stdout")
    lst.add_argument("--tag", action="append", default=[], metavar="TAG",
                     help="only scenarios with this tag (repeatable: all must match)")
    show = ssub.add_parser("show", help="one scenario, hidden truth included")
    show.add_argument("id", help="scenario id (see: arena scenarios list)")
    show.add_argument("--json", action="store_true", help="the scenario as JSON on stdout")
    val = ssub.add_parser("validate", help="check scenario files and their images; exit 1 on any problem")
    val.add_argument("paths", nargs="*", type=path_arg, metavar="PATH",
                     help="files or folders (default: the built-in library)")
    val.add_argument("--json", action="store_true", help="the report as JSON on stdout")
    ssub.add_parser("schema", help="the scenario JSON Schema on stdout")
    imp = ssub.add_parser("import", help="convert cases from another benchmark's format")
    imp.add_argument("format", choices=["agentclinic"], help="source format")
    imp.add_argument("file", type=path_arg, help="JSONL file (MedQA-style OSCE or NEJM-style records)")
    imp.add_argument("--out", type=path_arg, default=IMPORT_ROOT, metavar="ROOT",
                     help="library root to write cases/ and images/ into (play it with arena match --library ROOT)")
    imp.add_argument("--image-dir", type=path_arg, metavar="DIR", help="folder holding the images the records name")
    imp.add_argument("--image", type=path_arg, metavar="FILE", help="pair text-only OSCE records with this local image")
    imp.add_argument("--overwrite", action="store_true", help="replace cases that already exist in ROOT")
    imp.add_argument("--json", action="store_true", help="the import report as JSON on stdout")
    for name, parser in ssub.choices.items():
        _PARSERS[name] = parser


def chosen_parser(root: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the (sub)command the arguments selected, for error messages."""
    sub = next(a for a in root._actions if isinstance(a, argparse._SubParsersAction))
    command: argparse.ArgumentParser = sub.choices[args.command]
    if args.command != "scenarios":
        return command
    require_command(command, args.scenarios_command, "subcommand")
    return _PARSERS[args.scenarios_command]


def summary(scenario: Scenario) -> dict[str, object]:
    return {
        "id": scenario.id,
        "title": scenario.title,
        "specialty": scenario.specialty,
        "modality": scenario.modality,
        "modes": [m.value for m in scenario.modes],
        "ambiguity": scenario.ground_truth.ambiguity.value,
        "urgency": scenario.ground_truth.urgency,
        "has_prior": bool(scenario.prior_images),
        "images": len(scenario.images),
        "tags": scenario.tags,
    }


def run(args: argparse.Namespace, console: Console) -> int:
    command = args.scenarios_command
    if command == "schema":
        print(dumps_json(Scenario.model_json_schema()))
        return 0
    if command == "validate":
        return _validate(args, console)
    if command == "import":
        return _import(args, console)
    library = ScenarioLibrary()
    if command == "show":
        scenario = library.get(args.id)
        if args.json:
            print(dumps_json(scenario.model_dump(mode="json")))
        else:
            console.print_json(scenario.model_dump_json())
        return 0
    scenarios = [s for s in library.all() if all(tag in s.tags for tag in args.tag)]
    if args.json:
        print(dumps_json([summary(s) for s in scenarios]))
        return 0
    table = Table(title=f"{len(scenarios)} scenarios")
    wide = console.width >= 150
    table.add_column("id", no_wrap=True, min_width=max((len(s.id) for s in scenarios), default=2))
    if wide:
        table.add_column("specialty", no_wrap=True)
        table.add_column("modes", no_wrap=True)
    table.add_column("ambiguity" if wide else "amb.", no_wrap=True)
    table.add_column("prior", no_wrap=True)
    table.add_column("tags", overflow="fold", ratio=1)
    for s in scenarios:
        cells = [s.id]
        if wide:
            cells += [s.specialty, ",".join(m.value for m in s.modes)]
        cells += [s.ground_truth.ambiguity.value, "yes" if s.prior_images else "", ", ".join(s.tags)]
        table.add_row(*cells)
    console.print(table)
    return 0


def _validate(args: argparse.Namespace, console: Console) -> int:
    paths = args.paths or [SCENARIOS_ROOT]
    checked, problems = validate_paths(paths, find=leak_finder())
    if args.json:
        print(dumps_json({"files": checked, "problems": [p.__dict__ for p in problems]}))
    else:
        for problem in problems:  # one line each, whatever a file name or field holds
            console.print(Text(neutralise(str(problem), single_line=True), style="red"), soft_wrap=True)
        bad = len({p.file for p in problems})
        console.print(Text(f"{checked} file(s) checked, {bad} with problems, {len(problems)} problem(s)"))
    if checked == 0:
        console.print(Text("no scenario files found", style="red"))
        return 1
    return 1 if problems else 0


def _import(args: argparse.Namespace, console: Console) -> int:
    from scenarios.importers.agentclinic import import_agentclinic

    result = import_agentclinic(args.file, args.out, image_dir=args.image_dir, pair_image=args.image,
                                overwrite=args.overwrite)
    # Every report lists the records in the order of the file (line numbers ascending).
    outcomes = sorted([(n, "imported", s.id) for n, s in result.imported]
                      + [(n, "refused", r) for n, r in result.refused])
    if args.json:
        print(dumps_json({
            "out": str(args.out),
            "imported": [{"line": n, "id": what} for n, status, what in outcomes if status == "imported"],
            "refused": [{"line": n, "reason": what} for n, status, what in outcomes if status == "refused"],
            "records": [{"line": n, "status": status, ("id" if status == "imported" else "reason"): what}
                        for n, status, what in outcomes],
        }))
    else:
        for n, status, what in outcomes:
            if status == "imported":
                console.print(Text(f"line {n}: imported as {what}"), soft_wrap=True)
            else:
                console.print(Text(neutralise(f"line {n}: refused: {what}", single_line=True), style="yellow"),
                              soft_wrap=True)
        console.print(Text(f"{len(result.imported)} imported into {args.out}, {len(result.refused)} refused"),
                      soft_wrap=True)
        if result.imported:
            console.print(Text(f"play one with: arena match --library {args.out} --scenario "
                               f"{result.imported[0][1].id} --target reference/oracle"), soft_wrap=True)
    return 0 if result.imported or not result.refused else 1
