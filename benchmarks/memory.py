"""Measure peak memory: a 10,000-match offline tournament, and the report of it.

Usage: ``python benchmarks/memory.py [--quick]`` from the repository root. A round robin of 20
reference models (190 pairs) over every library scenario and seeds 0..1, cut at 10,000 matches by
``--matches`` (the first 53 slots; ``--quick``: 4 models, 12 matches), is played by ``arena
tournament`` in a child process, then ``arena report`` renders it in another. Peak resident set
size from ``getrusage(RUSAGE_CHILDREN)``: the largest child so far (the report's line is the peak of
either). Printed: matches, encounters, wall seconds, peak RSS (MB) (target: under 500 MB for the
tournament) and the page's size.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def child(args: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB of the process tree run so far (children only), stdout."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "arena.entry", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"arena {' '.join(args[:2])} failed: {done.stderr[-2000:]}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest child so far
    return time.perf_counter() - start, peak_kb / 1024, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 models, 2 slots")
    quick = parser.parse_args().quick
    n = 4 if quick else 20
    models = ",".join(f"reference/skill-{i / n:.2f}" for i in range(n))
    matches = 12 if quick else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        t_s, t_mb, out = child(["tournament", "--models", models, "--scenarios", "all", "--seeds", "2",
                                "--matches", str(matches), "--concurrency", "8", "--bootstrap", "200",
                                "--out", tmp, "--run", "mem", "--json"])
        board = json.loads(out)
        encounters = len(list((Path(tmp) / "mem").glob("*.json"))) - 1  # leaderboard.json aside
        r_s, r_mb, _ = child(["report", str(Path(tmp) / "mem"), "--out", str(Path(tmp) / "r.html")])
        size = (Path(tmp) / "r.html").stat().st_size / 1e6
    print(f"{'what':<34} {'value':>10}")
    print(f"{'matches finished':<34} {board['matches']['finished']:>10}")
    print(f"{'encounters':<34} {encounters:>10}")
    print(f"{'tournament wall (s)':<34} {t_s:>10.1f}")
    print(f"{'tournament peak RSS (MB)':<34} {t_mb:>10.0f}")
    print(f"{'report wall (s)':<34} {r_s:>10.1f}")
    print(f"{'peak RSS of either (MB)':<34} {r_mb:>10.0f}")
    print(f"{'report size (MB)':<34} {size:>10.1f}")


if __name__ == "__main__":
    main()
