"""The table of hostile inputs tried by the test run and how each ended (issue 12, item 3).

A test calls :func:`tried` with the input's category, a description and how the arena handled it
(the observed error line, or what was checked). ``tests/conftest.py`` marks each row with its
test's result, prints the table at the end of the run and writes it to :data:`TABLE_FILE`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

TABLE_FILE = Path(__file__).resolve().parents[1] / "transcripts" / "hostile-inputs.md"


@dataclass
class Row:
    nodeid: str
    category: str
    case: str
    ended: str
    result: str = "not run to the end"


ROWS: list[Row] = []
_current: list[str] = [""]  # the running test's node id (set by conftest)


def tried(category: str, case: str, ended: str) -> None:
    ROWS.append(Row(_current[0], category, case, " ".join(ended.split())[:240]))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\x1b", "\\x1b")


def markdown() -> str:
    passed = sum(r.result == "passed" for r in ROWS)
    lines = [f"# Hostile inputs: {len(ROWS)} tried, {passed} handled as required, {len(ROWS) - passed} not", "",
             "| # | category | input | how it ended | result |", "|---|---|---|---|---|"]
    lines += [f"| {i} | {_cell(r.category)} | {_cell(r.case)} | {_cell(r.ended)} | {r.result} |"
              for i, r in enumerate(ROWS, 1)]
    return "\n".join(lines) + "\n"
