"""``arena models list``: providers, configured endpoints and the reference models.

Keys are never shown: only the name of the variable a provider reads and whether it is set.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from arena.cli_commands import COMMANDS
from arena.cli_parser import path_arg
from arena.composition import registry
from arena.config import ModelsConfig, default_models_file, load_models_config
from arena.providers.common import safe_url
from arena.terminal import dumps_json

_PARSERS: dict[str, argparse.ArgumentParser] = {}


def add_models_file_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models-file", type=path_arg, metavar="PATH",
                        help="TOML file of endpoints and prices (default: $ARENA_MODELS_FILE, ./arena-models.toml, "
                             "~/.config/arena/models.toml; none is fine)")


def models_config(path: Path | None) -> ModelsConfig:
    """The models file in effect: the one given, else the default location, else none."""
    if path is not None:
        return load_models_config(path, explicit=True)
    return load_models_config(default_models_file())


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    models = sub.add_parser("models", help=COMMANDS["models"])
    _PARSERS[""] = models
    msub = models.add_subparsers(dest="models_command", metavar="SUBCOMMAND", parser_class=type(models))
    lst = msub.add_parser("list", help="list providers, endpoints from the models file and reference models")
    add_models_file_option(lst)
    lst.add_argument("--json", action="store_true", help="machine-readable list on stdout")
    _PARSERS["list"] = lst


def subparser(name: str | None) -> argparse.ArgumentParser | None:
    return _PARSERS.get(name or "")


def listing(config: ModelsConfig) -> dict[str, object]:
    providers = []
    for provider in registry().providers():
        variable = getattr(provider, "key_variable", None)
        providers.append({"provider": provider.name, "summary": provider.summary, "key_variable": variable,
                          "key_set": bool(os.environ.get(variable)) if variable else None,
                          "models": provider.known_models()})
    endpoints = [{"endpoint": name, "provider": e.provider, "base_url": safe_url(e.base_url) if e.base_url else None,
                  "api_key_env": e.api_key_env,
                  "key_set": bool(os.environ.get(e.api_key_env)) if e.api_key_env else None,
                  "vision": e.vision is not False, "concurrency": e.concurrency, "timeout_s": e.timeout_s,
                  "max_retries": e.max_retries, "max_image_side": e.max_image_side,
                  "max_image_bytes": e.max_image_bytes}
                 for name, e in config.endpoints.items()]
    return {"models_file": config.source, "providers": providers, "endpoints": endpoints}


def run(args: argparse.Namespace, console: Console) -> int:
    data = listing(models_config(args.models_file))
    if args.json:
        print(dumps_json(data))
        return 0
    table = Table(title="Providers (spec: provider/model)")
    table.add_column("provider", no_wrap=True)
    table.add_column("key")
    table.add_column("what it is")
    for row in data["providers"]:  # type: ignore[attr-defined]
        state = "set" if row["key_set"] else "not set"
        key = "-" if row["key_variable"] is None else f"{row['key_variable']} ({state})"
        table.add_row(row["provider"], key, f"{row['summary']}\n" + ", ".join(row["models"]))
    console.print(table)
    endpoints = data["endpoints"]
    source = data["models_file"] or "none"
    if endpoints:
        etable = Table(title=f"Endpoints (spec: endpoint/model) from {source}")
        for column in ("endpoint", "provider", "base_url", "vision", "concurrency", "api_key_env"):
            etable.add_column(column)
        for row in endpoints:  # type: ignore[attr-defined]
            etable.add_row(row["endpoint"], row["provider"], str(row["base_url"] or "-"), str(row["vision"]),
                           str(row["concurrency"]), str(row["api_key_env"] or "-"))
        console.print(etable)
    else:
        console.print(Text(f"No endpoints configured (models file: {source})."))
    return 0
