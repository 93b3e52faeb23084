"""Every module imports on its own in a fresh interpreter; every benchmark script runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("arena", "agents", "scenarios")


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(args, capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)


def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    modules = _modules()
    assert len(modules) > 40 and "agents.simulator.policy" in modules and "arena.cli" in modules
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(lambda m: (m, _run([sys.executable, "-c", f"import {m}"])), modules))
    failures = {m: p.stderr.strip().splitlines()[-1:] for m, p in results if p.returncode != 0}
    assert not failures, failures


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "benchmarks").glob("*.py")))
def test_every_benchmark_script_runs(script: str) -> None:
    proc = _run([sys.executable, str(ROOT / "benchmarks" / script), "--quick"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("\n") >= 3  # it printed a table


def test_only_the_composition_root_imports_agents_from_arena() -> None:
    """``arena`` owns the protocols and orchestration; ``agents`` implements them. One module of
    ``arena`` wires the two together; any other import of ``agents`` from ``arena`` is a layering bug."""
    import ast

    root = Path(__file__).parents[1]
    offenders = []
    for path in sorted((root / "arena").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n == "agents" or n.startswith("agents.") for n in names):
                offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert offenders and all(o.startswith("arena/composition.py:") for o in offenders), offenders


HEAVY = ("langgraph", "langchain_core", "langsmith", "numpy", "scipy", "networkx", "openai", "anthropic", "PIL",
         "pydantic", "matplotlib", "jinja2")


@pytest.mark.parametrize("argv", [[], ["--help"], ["-h"], ["--version"]])
def test_help_and_version_import_no_command_and_say_what_the_full_parser_says(argv: list[str]) -> None:
    """``arena --help`` is answered from ``arena.cli_commands`` (start-up well under 0.5 s, measured
    in benchmarks/startup.py); its output and exit code are the full parser's."""
    script = ("import sys, json; sys.argv = ['arena', *json.loads(sys.argv[1])]\n"
              "from arena.entry import main\n"
              "try:\n    code = main()\nexcept SystemExit as e:\n    code = e.code or 0\n"
              f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})\n"
              "print('\\n@@' + json.dumps([code, heavy]))")
    quick = _run([sys.executable, "-c", script, json.dumps(argv)])
    out, _, tail = quick.stdout.rpartition("\n@@")
    code, heavy = json.loads(tail)
    assert heavy == [], heavy
    full = _run([sys.executable, "-c", "import sys\nfrom arena.cli import main\n"
                 f"sys.exit(main({argv!r}))"])
    assert (code, out.strip(), quick.stderr) == (full.returncode, full.stdout.strip(), full.stderr)
