"""The ``arena`` console script, kept tiny: Ctrl-C while the CLI's modules are still being imported
(about two seconds) ends with ``arena: interrupted`` and exit code 130, not a traceback.

Nothing here imports anything beyond the standard library's ``os`` and ``sys``; ``arena`` itself
imports nothing eagerly (see ``arena/__init__.py``). ``arena``, ``arena --help`` and ``arena
--version`` are answered from :mod:`arena.cli_commands` without importing any command.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO


def silence(stream: TextIO | None) -> None:
    """Point ``stream``'s descriptor at /dev/null, so the interpreter's final flush of what could not
    be written (a closed pipe, a full disk) cannot fail again at exit and change the exit code."""
    try:
        fd = stream.fileno() if stream is not None else -1
        if fd < 0:
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no descriptor (captured), or already closed
        pass


def report(line: str) -> None:
    """Write one line on stderr. A closed or broken stderr is ignored: the exit code says it all."""
    stream = sys.stderr
    if stream is None:  # started with stderr closed (2>&-)
        return
    try:
        stream.write(line + "\n")
        stream.flush()
    except (OSError, ValueError):
        silence(stream)


def main() -> int:
    try:
        from arena.cli_commands import QUICK, quick  # standard library only

        if sys.argv[1:] in QUICK:  # answered without importing any command
            return quick(sys.argv[1:])
        from arena.cli import main as cli_main
    except KeyboardInterrupt:
        report("arena: interrupted")
        return 130
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
