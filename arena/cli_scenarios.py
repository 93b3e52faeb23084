"""``arena scenarios ...``: list, show, validate, schema, import."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from arena.schemas.scenario import Scenario
from scenarios.library import SCENARIOS_ROOT, ScenarioLibrary, validate_paths


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    scen = sub.add_parser("scenarios", help="the case library: list, show, validate, schema, import")
    ssub = scen.add_subparsers(dest="scenarios_command", required=True, metavar="SUBCOMMAND")
    lst = ssub.add_parser("list", help="list scenarios")
    lst.add_argument("--json", action="store_true", help="machine-readable list on stdout")
    lst.add_argument("--tag", action="append", default=[], help="only scenarios with this tag (repeatable)")
    show = ssub.add_parser("show", help="one scenario, hidden truth included")
    show.add_argument("id")
    show.add_argument("--json", action="store_true")
    val = ssub.add_parser("validate", help="check scenario files and their images; exit 1 on any problem")
    val.add_argument("paths", nargs="*", type=Path, help="files or folders (default: the library)")
    val.add_argument("--json", action="store_true")
    ssub.add_parser("schema", help="the scenario JSON Schema on stdout")
    imp = ssub.add_parser("import", help="convert cases from another benchmark's format")
    imp.add_argument("format", choices=["agentclinic"])
    imp.add_argument("file", type=Path, help="JSONL file (MedQA-style OSCE or NEJM-style records)")
    imp.add_argument("--out", type=Path, default=SCENARIOS_ROOT, help="library root to write cases/ and images/")
    imp.add_argument("--image-dir", type=Path, help="folder holding the images the records name")
    imp.add_argument("--image", type=Path, help="pair text-only OSCE records with this local image")
    imp.add_argument("--overwrite", action="store_true")
    imp.add_argument("--json", action="store_true")


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
        print(json.dumps(Scenario.model_json_schema(), indent=2))
        return 0
    if command == "validate":
        return _validate(args, console)
    if command == "import":
        return _import(args, console)
    library = ScenarioLibrary()
    if command == "show":
        scenario = library.get(args.id)
        if args.json:
            print(scenario.model_dump_json(indent=2))
        else:
            console.print_json(scenario.model_dump_json())
        return 0
    scenarios = [s for s in library.all() if all(tag in s.tags for tag in args.tag)]
    if args.json:
        print(json.dumps([summary(s) for s in scenarios], indent=2))
        return 0
    table = Table(title=f"{len(scenarios)} scenarios")
    for column in ("id", "specialty", "modes", "ambiguity", "prior", "tags"):
        table.add_column(column)
    for s in scenarios:
        table.add_row(s.id, s.specialty, ",".join(m.value for m in s.modes), s.ground_truth.ambiguity.value,
                      "yes" if s.prior_images else "", ", ".join(s.tags))
    console.print(table)
    return 0


def _validate(args: argparse.Namespace, console: Console) -> int:
    paths = args.paths or [SCENARIOS_ROOT]
    checked, problems = validate_paths(paths)
    if args.json:
        print(json.dumps({"files": checked, "problems": [p.__dict__ for p in problems]}, indent=2))
    else:
        for problem in problems:
            console.print(Text(str(problem), style="red"), soft_wrap=True)
        bad = len({p.file for p in problems})
        console.print(f"{checked} file(s) checked, {bad} with problems, {len(problems)} problem(s)")
    if checked == 0:
        console.print("[red]no scenario files found[/]")
        return 1
    return 1 if problems else 0


def _import(args: argparse.Namespace, console: Console) -> int:
    from scenarios.importers.agentclinic import import_agentclinic

    result = import_agentclinic(args.file, args.out, image_dir=args.image_dir, pair_image=args.image,
                                overwrite=args.overwrite)
    if args.json:
        print(json.dumps({
            "imported": [{"line": n, "id": s.id} for n, s in result.imported],
            "refused": [{"line": n, "reason": r} for n, r in result.refused],
        }, indent=2))
    else:
        for n, s in result.imported:
            console.print(Text(f"line {n}: imported as {s.id}"), soft_wrap=True)
        for n, reason in result.refused:
            console.print(Text(f"line {n}: refused: {reason}", style="yellow"), soft_wrap=True)
        console.print(f"{len(result.imported)} imported, {len(result.refused)} refused")
    return 0 if result.imported or not result.refused else 1
