"""Measure start-up: the wall time of ``arena --help`` and ``arena --version`` (answered without
importing any command) against a command's own help (``arena tournament --help``, which imports the
CLI) and a bare interpreter, in fresh processes.

Usage: ``python benchmarks/startup.py [--quick]`` from the repository root (``--quick``: 2 runs each,
else 7). Printed: the median wall seconds per command and its ratio to the bare interpreter.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "arena --help": [sys.executable, "-m", "arena.entry", "--help"],
    "arena --version": [sys.executable, "-m", "arena.entry", "--version"],
    "arena tournament --help": [sys.executable, "-m", "arena.entry", "tournament", "--help"],
}


def wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 runs each")
    runs = 2 if parser.parse_args().quick else 7
    medians = {name: statistics.median(wall(cmd) for _ in range(runs)) for name, cmd in COMMANDS.items()}
    bare = medians["python -c pass"]
    print(f"{'command':<28} {'median s':>9} {'x bare':>7}")
    for name, value in medians.items():
        print(f"{name:<28} {value:>9.3f} {value / bare:>7.1f}")
    print(f"{'target: arena --help':<28} {'< 0.5':>9}")


if __name__ == "__main__":
    main()
