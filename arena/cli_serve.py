"""``arena serve``: the offline reference models (``reference/pixel``, ``reference/blind``) behind an
OpenAI-compatible HTTP API, for pointing any OpenAI-compatible harness at models of known behaviour.

It listens on loopback only (``--host`` 127.0.0.1, localhost or ::1): the server has no
authentication. ``--allow-remote`` lifts that, for a host address that other machines can reach,
on purpose. See :mod:`arena.serve` for the endpoints and what is refused.
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.text import Text

from arena.cli_commands import COMMANDS
from arena.cli_parser import float_in, int_in

# The same values as arena.serve's; that module (starlette, uvicorn) is imported only to serve.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8089
MAX_LATENCY_MS = 60_000

port_arg = int_in(0, 65535)
latency_arg = int_in(0, MAX_LATENCY_MS)


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = sub.add_parser(
        "serve", help=COMMANDS["serve"],
        description="Serve reference/pixel and reference/blind at http://HOST:PORT/v1 (GET /v1/models, "
                    "POST /v1/chat/completions; images as data: URLs) until Ctrl-C. Loopback only unless "
                    "--allow-remote: the server has no authentication.")
    serve.add_argument("--host", default=DEFAULT_HOST, metavar="HOST",
                       help="address to listen on: 127.0.0.1, localhost or ::1 (another needs --allow-remote)")
    serve.add_argument("--port", type=port_arg, default=DEFAULT_PORT, metavar="PORT",
                       help="TCP port, 0..65535 (0: any free port, shown on start)")
    serve.add_argument("--latency-ms", type=latency_arg, default=0, metavar="MS",
                       help=f"sleep this long before every completion, 0..{MAX_LATENCY_MS}")
    serve.add_argument("--faults", metavar="KIND=RATE,...",
                       help="inject faults into completions, e.g. 429=0.1,5xx=0.05,timeout=0.02,drop=0.02,"
                            "truncated=0.02,malformed=0.02,empty=0.02 (a rehearsal for a harness)")
    serve.add_argument("--fault-seed", type=int_in(0, 2**31 - 1), default=0, metavar="N",
                       help="seed of the fault draws (the same seed, the same faults)")
    serve.add_argument("--retry-after", type=float_in(0, 120), default=1.0, metavar="S",
                       help="the Retry-After of an injected 429, in seconds (default: 1)")
    serve.add_argument("--hang", type=float_in(0.001, 600), default=30.0, metavar="S",
                       help="how long an injected timeout holds the reply (default: 30)")
    serve.add_argument("--allow-remote", action="store_true",
                       help="allow a --host other than loopback: anyone who can reach it can use the server")


def run(args: argparse.Namespace, console: Console) -> int:
    from arena.serve import serve

    def announce(line: str) -> None:
        console.print(Text(line), soft_wrap=True)

    from arena.faults import FaultPlan

    faults = FaultPlan.parse(args.faults, seed=args.fault_seed, retry_after_s=args.retry_after,
                             hang_s=args.hang) if args.faults else None
    return serve(args.host, args.port, args.latency_ms, allow_remote=args.allow_remote, announce=announce,
                 faults=faults)
