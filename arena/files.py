"""Reading untrusted files and writing results safely: the one place the arena touches disk.

* :func:`read_regular_file` reads only regular files (never a FIFO, device or directory, even
  behind a symlink), with a size cap, without blocking.
* :func:`parse_json` turns bytes into JSON with bounded depth, bounded integers and finite numbers;
  every failure is a :class:`FileRefused` with a one-line reason.
* :func:`atomic_write` writes through a unique temporary file in the destination folder and an
  atomic rename, so a reader never sees a half-written file and concurrent writers never share a
  temporary name.
* :func:`prepare_output_dir` checks, before any work is spent, that results can be written.
"""

from __future__ import annotations

import errno
import json
import math
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from arena.errors import ArenaError, UsageError
from arena.limits import MAX_JSON_DEPTH, MAX_JSON_INT_DIGITS

_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


class FileRefused(ArenaError):
    """A file that cannot be used; the message is the reason (without the file name)."""


def _describe(exc: OSError) -> str:
    return exc.strerror or str(exc)


def read_regular_file(path: Path, *, limit: int) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes.

    Symlinks are followed, but what they point to must be a regular file too. The file is opened
    non-blocking and re-checked on the open descriptor, so a FIFO swapped in meanwhile cannot hang.
    """
    try:
        info = os.stat(path)
    except ValueError as exc:  # an embedded NUL byte
        raise FileRefused(f"unusable path: {exc}") from None
    except OSError as exc:
        raise FileRefused(f"cannot read: {_describe(exc)}") from None
    if not stat.S_ISREG(info.st_mode):
        kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
        raise FileRefused(f"not a regular file ({kind})")
    if info.st_size > limit:
        raise FileRefused(f"file is {info.st_size} bytes, over the {limit}-byte limit")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise FileRefused(f"cannot read: {_describe(exc)}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise FileRefused("not a regular file (changed while opening)")
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise FileRefused(f"cannot read: {_describe(exc)}") from None
    finally:
        os.close(fd)
    if size > limit:
        raise FileRefused(f"file grew past the {limit}-byte limit while being read")
    return b"".join(chunks)


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError(f"number {literal[:40]} is not finite")
    return value


def _bounded_int(literal: str) -> int:
    digits = len(literal.lstrip("-"))
    if digits > MAX_JSON_INT_DIGITS:
        raise ValueError(f"integer with {digits} digits (at most {MAX_JSON_INT_DIGITS})")
    return int(literal)


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, iteratively (no recursion limit to hit)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest


def decode_utf8(data: bytes) -> str:
    """Strict UTF-8 (a leading BOM is allowed); the error names the byte offset."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRefused(f"not valid UTF-8 (byte {exc.start})") from None


def parse_json_text(text: str) -> Any:
    """JSON with finite numbers, bounded integers and at most ``MAX_JSON_DEPTH`` levels."""
    try:
        value = json.loads(text, parse_float=_finite_float, parse_int=_bounded_int,
                           parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise FileRefused(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise FileRefused(f"invalid JSON: nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:
        raise FileRefused(f"invalid JSON: {exc}") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise FileRefused(f"invalid JSON: nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def parse_json(data: bytes) -> Any:
    return parse_json_text(decode_utf8(data))


def load_json_file(path: Path, *, limit: int) -> Any:
    """Read and parse one JSON file under every guard above."""
    return parse_json(read_regular_file(path, limit=limit))


def atomic_write(path: Path, data: bytes | str, *, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` via a unique temporary file and an atomic rename.

    With ``overwrite=False`` an existing ``path`` is never replaced (``FileExistsError``), even by
    a concurrent writer: the final step is a hard link, which fails if the name exists.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:80]}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def prepare_output_dir(path: Path, *, flag: str = "--out") -> Path:
    """Create ``path`` if needed and prove a file can be written there; else a one-line UsageError."""
    where = f"{flag} {str(path)[:200]}"
    try:
        if path.exists() and not path.is_dir():
            raise UsageError(f"{where}: exists and is not a directory; choose a folder")
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".arena-write-check.", suffix=".tmp")
        try:
            os.write(fd, b"ok")
        finally:
            os.close(fd)
            os.unlink(probe)
    except UsageError:
        raise
    except ValueError as exc:  # an embedded NUL byte
        raise UsageError(f"{where}: unusable path ({exc})") from None
    except OSError as exc:
        hint = {errno.EROFS: "read-only file system", errno.ENAMETOOLONG: "name too long",
                errno.EACCES: "permission denied", errno.ENOTDIR: "a parent is not a directory"}
        reason = hint.get(exc.errno or 0, _describe(exc))
        raise UsageError(f"{where}: not writable ({reason}); choose a writable folder") from None
    return path
