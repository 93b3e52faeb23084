"""``arena bench``: every model through every scenario and requested ablation, absolute scores with
intervals, paired ablation deltas, subgroup deltas, pass^k and the judge's agreement figures."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from arena.cli_commands import COMMANDS
from arena.cli_models import add_models_file_option
from arena.cli_parser import int_in, path_arg, seed_arg, turns_arg
from arena.cli_tournament import FAULTS_HELP, LiveProgress
from arena.echo import clip_path
from arena.entry import report
from arena.runner import check_run_name
from arena.schemas.transcript import ABLATIONS
from arena.terminal import dumps_json, make_console

FLAGS = ("models", "scenarios", "seeds", "seed", "mode", "concurrency", "judge", "simulator", "max_turns", "bootstrap",
         "run", "out", "models_file", "base_url", "library", "ablations", "annotations", "faults")
KEYS = ("coherence", "uncertainty", "narrative", "safety", "accuracy", "overall")
SHORT = {"coherence": "coh", "uncertainty": "unc", "narrative": "nar", "safety": "saf", "accuracy": "acc",
         "overall": "overall"}


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    b = sub.add_parser("bench", help=COMMANDS["bench"])
    b.add_argument("--models", metavar="SPEC,SPEC,...", help="one or more model specs, comma-separated")
    b.add_argument("--scenarios", metavar="SELECTOR", help="scenario ids, tag:T, starter or all (default: all)")
    b.add_argument("--seeds", type=int_in(1, 1000), metavar="N", help="simulator seeds per scenario (default: 1)")
    b.add_argument("--seed", type=seed_arg, metavar="BASE", help="first seed (default: 0); also seeds the bootstrap")
    b.add_argument("--mode", choices=["default", "patient", "clinician", "all"], help="default: each scenario's first")
    b.add_argument("--ablate", dest="ablations", action="append", choices=list(ABLATIONS),
                   help="also play every encounter without the image, the record, both, or as one static vignette "
                        "turn (dialogue); repeat for several")
    b.add_argument("--judge", action="append", metavar="SPEC", help="rubric (offline) or a model spec; repeat for a "
                   "jury (default: rubric)")
    b.add_argument("--annotations", type=path_arg, metavar="FILE.jsonl",
                   help="human scores (arena agreement's format) to report the judge's agreement with")
    b.add_argument("--simulator", metavar="SPEC", help="rule-based (default; needed for ablations) or a model spec")
    b.add_argument("--max-turns", type=turns_arg, metavar="N", help="simulator turn budget, 1..50 (default: 7)")
    b.add_argument("--bootstrap", type=int_in(10, 100_000), metavar="N", help="bootstrap rounds (default: 1000)")
    b.add_argument("--concurrency", type=int_in(1, 1024), metavar="N", help="encounters in flight (default: 4)")
    b.add_argument("--config", type=path_arg, metavar="FILE.toml", help="a TOML file holding any of these options")
    b.add_argument("--resume", action="store_true", help="continue the run named by --run: recorded encounters are "
                   "kept, the rest played")
    b.add_argument("--library", type=path_arg, metavar="ROOT", help="scenario library root (default: built-in)")
    add_models_file_option(b)
    b.add_argument("--base-url", metavar="URL", help="base URL for openai-compatible/<model> specs")
    b.add_argument("--out", type=path_arg, metavar="DIR", help="folder of runs (default: transcripts)")
    b.add_argument("--run", type=check_run_name, metavar="NAME", help="run name (default: bench-<UTC date-time>-...)")
    b.add_argument("--faults", metavar="KIND=RATE,...", help=FAULTS_HELP)
    b.add_argument("--json", action="store_true", help="print the results document on stdout")


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    flags = {k: getattr(args, k, None) for k in FLAGS}
    for key in ("out", "library", "models_file", "annotations"):
        if flags[key] is not None:
            flags[key] = str(flags[key])
    return flags


def _cell(entry: dict[str, Any] | None, key: str) -> str:
    if entry is None or entry.get(key) is None:
        return "–"
    value = entry[key]
    low, high = entry.get("ci_low"), entry.get("ci_high")
    sign = "+" if key == "delta" else ""
    interval = f"\n[{low:{sign}.2f}, {high:{sign}.2f}]" if low is not None and high is not None else ""
    return f"{value:{sign}.2f}{interval}"


def _table(title: str, rows: list[tuple[str, dict[str, Any], str]], key: str, narrow: bool) -> Table:
    table = Table(title=title)
    table.add_column("model", no_wrap=True)
    table.add_column("n", justify="right")
    for k in KEYS:
        table.add_column(SHORT[k] if narrow else k, justify="right")
    for name, entry, n in rows:
        table.add_row(name, n, *(_cell(entry.get(k), key) for k in KEYS))
    return table


def print_results(console: Console, doc: dict[str, Any]) -> None:
    narrow = console.width < 140
    models = doc["models"]
    console.print(_table(f"Scores (1-5, mean [95% bootstrap interval]); judge {doc['judge']}",
                         [(m["model"], m["scores"], str(m["n"])) for m in models], "mean", narrow))
    for ablation in doc["ablations"]:
        rows = [(m["model"], m["ablations"][ablation],
                 str(next(iter(m["ablations"][ablation].values()))["n"])) for m in models]
        console.print(_table(f"Without {ablation}: ablated minus full, paired by scenario and seed", rows, "delta",
                             narrow))
    names = sorted({g for m in models for g in m["subgroups"]})
    if names:
        rows = [(f"{m['model']} · {g}", m["subgroups"][g], str(next(iter(m["subgroups"][g].values()))["n"]))
                for m in models for g in names if g in m["subgroups"]]
        console.print(_table("Subgroups: the subgroup's mean minus the rest (full encounters)", rows, "delta", narrow))
    passed = ", ".join(f"{m['model']} {m['pass_k']['pass_k'] if m['pass_k']['pass_k'] is not None else '–'}"
                       for m in models)
    console.print(Text(f"pass^{models[0]['pass_k']['k'] if models else 1} of the correct diagnosis: {passed}"),
                  soft_wrap=True)
    errors = sum(m["errors"]["infrastructure"] + m["errors"]["judge"] for m in models)
    if errors:
        console.print(Text(f"{errors} encounters without a verdict (infrastructure or judge errors) are left out of "
                           "every figure", style="yellow"), soft_wrap=True)
    _print_agreement(console, doc["agreement"])


def _print_agreement(console: Console, agreement: dict[str, Any]) -> None:
    if agreement["basis"] == "none":
        console.print(Text(f"judge agreement: {agreement['note']}", style="dim"), soft_wrap=True)
        return
    table = Table(title=f"Judge agreement ({'with humans' if agreement['basis'] == 'humans' else 'among judges'})")
    table.add_column("dimension")
    table.add_column("alpha among judges", justify="right")
    table.add_column("alpha among humans", justify="right")
    table.add_column("judge vs humans: kappa / rho (n)")
    for dimension, r in agreement["dimensions"].items():
        def f(v: float | None) -> str:
            return "–" if v is None else f"{v:.2f}"
        versus = "; ".join(f"{row['a']} {f(row['agreement']['kappa'])}/{f(row['agreement']['spearman'])} "
                           f"({row['agreement']['n']})" for row in r["judges"] if row["agreement"]["n"])
        table.add_row(dimension, f(r["alpha_judges"]), f(r["alpha_humans"]), versus or "–")
    console.print(table)


def run(args: argparse.Namespace, console: Console) -> int:
    from arena.bench import run as bench_run

    b = bench_run.prepare(_flags(args), args.config, resume=args.resume)
    err = make_console(stderr=True)
    if b.retried:
        err.print(Text(f"resume: {b.retried} encounters that ended with an infrastructure error are played again"),
                  soft_wrap=True)
    live = LiveProgress(err, "encounters") if err.is_terminal and not args.json else None
    try:
        if live is not None:
            with live.bar:
                doc = asyncio.run(bench_run.execute(b, live))
        else:
            doc = asyncio.run(bench_run.execute(b))
    except KeyboardInterrupt:
        report(f"arena: recorded encounters are kept; continue with: arena bench --run {b.run} "
               f"--out {clip_path(b.run_dir.parent)} --resume")
        raise
    finally:
        b.close()
    if args.json:
        print(dumps_json(doc))
    else:
        print_results(console, doc)
        console.print(Text(f"run folder: {b.run_dir}/ (bench.json, arena.sqlite, one transcript per encounter)"),
                      soft_wrap=True)
    return 0
