"""Measure ``arena report``: how long it takes and how big the page is for a demo-sized run.

Usage: ``python benchmarks/report.py [--quick]`` from the repository root.

Plays the demo tournament (9 reference models, round robin on the 4 starter scenarios, 2 seeds:
72 encounters, 288 matches; ``--quick``: 3 models, 1 scenario, 1 seed) into a temporary folder,
then times reading the run (store, leaderboard recomputed with its bootstrap, transcripts), the
charts and images, and the HTML and Markdown renders. Printed: encounters, matches, seconds per
step, the page's size (and how much of it is images), and the peak Python allocation while
rendering (tracemalloc).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
import tracemalloc
from pathlib import Path

from arena.cli import DEMO_SCENARIOS
from arena.composition import DEMO_MODELS
from arena.report.gather import gather
from arena.report.render import render
from arena.tournament import run as trun

STARTERS = ",".join(DEMO_SCENARIOS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 models, one scenario, one seed")
    args = parser.parse_args()
    models = DEMO_MODELS[:3] if args.quick else DEMO_MODELS
    with tempfile.TemporaryDirectory() as tmp:
        flags = {"models": ",".join(models), "scenarios": STARTERS.split(",")[0] if args.quick else STARTERS,
                 "seeds": 1 if args.quick else 2, "concurrency": 1, "run": "bench", "out": tmp, "bootstrap": 1000}
        t = trun.prepare(flags, None, resume=False)
        try:
            start = time.perf_counter()
            asyncio.run(trun.execute(t))
            played = time.perf_counter() - start
        finally:
            t.close()
        folder = Path(tmp) / "bench"
        start = time.perf_counter()
        report = gather(folder)
        read = time.perf_counter() - start
        tracemalloc.start()
        start = time.perf_counter()
        page = render(report)
        html_s = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        start = time.perf_counter()
        markdown = render(report, markdown=True)
        md_s = time.perf_counter() - start
    images = sum(len(u) for u in re.findall(r'src="(data:image/(?:png|jpeg)[^"]*)"', page))
    print(f"{'what':<44} {'value':>12}")
    shape = f"{len(models)} x {len(str(flags['scenarios']).split(','))} x {flags['seeds']}"
    print(f"{'models x scenarios x seeds':<44} {shape:>12}")
    print(f"{'encounters (transcripts)':<44} {len(report.by_encounter):>12}")
    print(f"{'matches':<44} {len(report.matches):>12}")
    print(f"{'tournament played (s)':<44} {played:>12.2f}")
    print(f"{'read run + leaderboard (s)':<44} {read:>12.2f}")
    print(f"{'render HTML incl. charts and images (s)':<44} {html_s:>12.2f}")
    print(f"{'render Markdown (s)':<44} {md_s:>12.2f}")
    print(f"{'HTML size (MB)':<44} {len(page.encode()) / 1e6:>12.2f}")
    print(f"{'  of which inline images (MB)':<44} {images / 1e6:>12.2f}")
    print(f"{'Markdown size (MB)':<44} {len(markdown.encode()) / 1e6:>12.2f}")
    print(f"{'peak Python allocation while rendering (MB)':<44} {peak / 1e6:>12.1f}")


if __name__ == "__main__":
    main()
