"""Measure how close tournaments against a slow OpenAI-compatible server come to ideal throughput.

Usage: ``python benchmarks/concurrency.py [--quick] [--levels 1,8,64,256]`` from the repository root
(``--quick``: concurrency 8 only, 4 models in the round robin; a smoke run, about 10 s).

``arena serve --latency-ms 200`` runs in its own process, as a user would run it; every target turn
is one HTTP call to it that takes at least 200 ms. Two tournament shapes, each at ``--concurrency``
1, 8, 64 and 256 (matches in flight):

* **round robin**: 8 models (eight endpoints of the models file, all on the server, alternately
  ``reference/pixel`` and ``reference/blind``) on ``ct-head-subdural-collection``, enough seeds for
  at least two matches per worker. An encounter is played once and shared by the 7 matches that
  need it, as in every round robin.
* **fresh pairs**: two models, one seed per match, so every match plays two encounters of its own:
  the most calls per match there can be.

The ideal: the same matches in the same order on the same number of workers, where a call takes
exactly 200 ms and the arena costs nothing. It is computed by replaying the executor's greedy
schedule with each encounter lasting 200 ms times its target calls (read from its transcript) and
starting when the first match that needs it starts; a match ends when both its encounters have.
Printed per shape and level: matches, target calls, ideal and measured wall time, calls per second,
the arena's CPU milliseconds per call (this process; the server's are shown apart) and the measured
fraction of ideal throughput (targets: >= 85% at 64, >= 60% at 256).
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from arena.tournament import run as trun

LATENCY_MS = 200
SCENARIO = "ct-head-subdural-collection"
ROUND_ROBIN_MODELS = 8


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int) -> subprocess.Popen[str]:
    server = subprocess.Popen([sys.executable, "-m", "arena.entry", "serve", "--port", str(port), "--latency-ms",
                               str(LATENCY_MS)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert server.stdout is not None
    line = server.stdout.readline()
    if "at http" not in line:
        server.kill()
        raise SystemExit(f"arena serve did not start: {line.strip()}")
    threading.Thread(target=server.stdout.read, daemon=True).start()  # drained: a full pipe would stall it
    return server


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ideal_makespan(matches: list[tuple[str, str]], durations: dict[str, float], workers: int) -> float:
    """The executor's schedule with zero overhead: each match, in order, goes to the first free
    worker; an encounter starts with the first match that needs it; a match ends with its later one."""
    free = [0.0] * min(workers, len(matches))
    finish: dict[str, float] = {}
    for pair in matches:
        start = heapq.heappop(free)
        for encounter in pair:
            if encounter not in finish:
                finish[encounter] = start + durations[encounter]
        heapq.heappush(free, max(start, *(finish[e] for e in pair)))
    return max(free, default=0.0)


def models_file(out: Path, port: int, endpoints: int) -> Path:
    path = out / f"models-{endpoints}.toml"
    path.write_text("".join(f'[endpoints.e{k}]\nprovider = "openai-compatible"\nbase_url = "http://127.0.0.1:{port}/v1"\n'
                            "concurrency = 1024\ncache = false\n\n" for k in range(endpoints)))
    return path


def measure(shape: str, level: int, out: Path, port: int, server_pid: int, quick: bool = False) -> dict[str, Any]:
    if shape == "round robin":
        n = 4 if quick else ROUND_ROBIN_MODELS
        models = [f"e{k}/reference/{'pixel' if k % 2 == 0 else 'blind'}" for k in range(n)]
        per_slot = len(models) * (len(models) - 1) // 2
        seeds = 1 if quick else max(1, -(-2 * level // per_slot))
    else:
        models, seeds = ["e0/reference/pixel", "e1/reference/blind"], level if quick else max(4, 2 * level)
    run = f"{shape.replace(' ', '-')}-{level}-{len(os.listdir(out))}"
    flags = {"models": ",".join(models), "scenarios": SCENARIO, "seeds": seeds, "out": str(out), "run": run,
             "concurrency": level, "bootstrap": 10, "models_file": str(models_file(out, port, len(models)))}
    t = trun.prepare(flags, None, resume=False)
    try:
        server_before, before, start = cpu_seconds(server_pid), time.process_time(), time.perf_counter()
        asyncio.run(trun.execute(t))
        wall, cpu = time.perf_counter() - start, time.process_time() - before
        server_cpu = cpu_seconds(server_pid) - server_before
        ordered = t.store.matches(scheduled_order=True)  # the order the executor took them
    finally:
        t.close()
    run_dir = out / run
    calls: dict[str, int] = {}
    for record in ordered:
        for enc, name in ((record.encounter_a, record.transcript_a), (record.encounter_b, record.transcript_b)):
            if enc not in calls:
                data = json.loads((run_dir / name).read_text(encoding="utf-8"))
                calls[enc] = sum(1 for c in data["calls"] if c["role"] == "target")
    durations = {e: n * LATENCY_MS / 1000 for e, n in calls.items()}
    ideal = ideal_makespan([(r.encounter_a, r.encounter_b) for r in ordered], durations, level)
    n_calls = sum(calls.values())
    return {"shape": shape, "level": level, "matches": len(ordered), "calls": n_calls, "wall": wall,
            "ideal": ideal, "cpu_ms": cpu * 1000 / n_calls, "server_ms": server_cpu * 1000 / n_calls,
            "errors": sum(1 for r in ordered if r.outcome == "error")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="concurrency 8 only, small tournaments")
    parser.add_argument("--levels", default=None, help="comma-separated concurrency levels (default 1,8,64,256)")
    args = parser.parse_args()
    levels = [int(x) for x in (args.levels or ("8" if args.quick else "1,8,64,256")).split(",")]
    port = free_port()
    server = start_server(port)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            measure("fresh pairs", 1, out, port, server.pid)  # warm-up: imports, first connections
            for shape in ("round robin", "fresh pairs"):
                for level in levels:
                    rows.append(measure(shape, level, out, port, server.pid, args.quick))
    finally:
        server.terminate()
        server.wait(10)
    print(f"{'shape':<12} {'conc.':>5} {'matches':>7} {'calls':>6} {'ideal s':>7} {'wall s':>7} {'calls/s':>7} "
          f"{'cpu ms/call':>11} {'server ms/call':>14} {'of ideal':>8}")
    for r in rows:
        print(f"{r['shape']:<12} {r['level']:>5} {r['matches']:>7} {r['calls']:>6} {r['ideal']:>7.2f} "
              f"{r['wall']:>7.2f} {r['calls'] / r['wall']:>7.1f} {r['cpu_ms']:>11.2f} {r['server_ms']:>14.2f} "
              f"{r['ideal'] / r['wall']:>8.1%}")
    failed = [r for r in rows if r["errors"]]
    if failed:
        raise SystemExit(f"{sum(r['errors'] for r in failed)} matches ended in an error")


if __name__ == "__main__":
    main()
