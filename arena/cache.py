"""The opt-in response cache: SQLite on disk, keyed by endpoint, model, parameters, message content
(images by the sha256 of the bytes sent), response schema and seed. Only usable answers are kept,
so an identical re-run with the cache on makes no model call at all."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from arena.echo import clip_path, exception_text
from arena.errors import UsageError
from arena.schemas.messages import ModelResponse

LOCK_TIMEOUT_S = 2.0  # the file is shared by concurrent runs; a longer lock is a miss, not a stall
SCHEMA = """
create table if not exists responses (
    key text primary key,
    model text not null,
    response text not null,
    created real not null
)
"""


class ResponseCache:
    """One SQLite file; one connection used from the event loop's thread only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, timeout=LOCK_TIMEOUT_S)
            self._db.execute("pragma journal_mode=wal")
            self._db.execute(SCHEMA)
            self._db.execute("select key, model, response, created from responses limit 0")
        except (OSError, sqlite3.Error) as exc:
            raise UsageError(f"--cache {clip_path(path)}: cannot open the response cache "
                             f"({exception_text(exc)})") from None
        self.hits = 0
        self.stores = 0
        self.failures = 0  # reads or writes that failed (a locked or damaged file): misses, never crashes

    def get(self, key: str) -> ModelResponse | None:
        try:
            row = self._db.execute("select response from responses where key = ?", (key,)).fetchone()
        except sqlite3.Error:
            self.failures += 1
            return None
        if row is None:
            return None
        try:
            response = ModelResponse.model_validate_json(row[0])
        except ValueError:  # a corrupt row is a miss, never a crash
            self.failures += 1
            return None
        self.hits += 1
        return response

    def put(self, key: str, response: ModelResponse) -> None:
        try:
            self._db.execute("insert or replace into responses values (?, ?, ?, ?)",
                             (key, response.model, response.model_dump_json(), time.time()))
        except sqlite3.Error:
            self.failures += 1
            return
        self.stores += 1

    def __len__(self) -> int:
        return int(self._db.execute("select count(*) from responses").fetchone()[0])

    def close(self) -> None:
        self._db.close()
