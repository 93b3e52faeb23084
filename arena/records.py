"""Pydantic records read from untrusted JSON files: one loader, one one-line error for every
command that reads transcripts or other saved records."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from arena.echo import clip, clip_path
from arena.errors import ArenaError
from arena.files import FileRefused, load_json_file
from arena.limits import MAX_TRANSCRIPT_FILE_BYTES
from arena.schemas.transcript import Transcript

M = TypeVar("M", bound=BaseModel)

# The JSON files a run folder holds besides its transcripts: the tournament's leaderboard, exported
# battles, the summary of arena rejudge and the results of arena bench.
REJUDGE_MANIFEST = "rejudge.json"
BENCH_RESULTS = "bench.json"
NOT_TRANSCRIPTS = frozenset({"leaderboard.json", "battles.json", REJUDGE_MANIFEST, BENCH_RESULTS})


def parse_record(raw: Any, model: type[M], *, path: Path, what: str) -> M:
    """``raw`` as a ``model``; an ``ArenaError`` naming the file, the first bad field and why."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ArenaError(f"{what} {clip_path(path)}: not a valid {what} ({clip(where, 80)}: "
                         f"{clip(first['msg'], 160)})") from None


def read_json(path: Path, *, limit: int, what: str) -> Any:
    try:
        return load_json_file(path, limit=limit)
    except FileRefused as exc:
        raise ArenaError(f"{what} {clip_path(path)}: {exc}") from None


def load_record(path: Path, model: type[M], *, limit: int, what: str) -> M:
    return parse_record(read_json(path, limit=limit, what=what), model, path=path, what=what)


def load_transcript(path: Path) -> Transcript:
    return load_record(path, Transcript, limit=MAX_TRANSCRIPT_FILE_BYTES, what="transcript")
