"""Reading untrusted files and writing results safely: the one place the arena touches disk.

* :func:`read_regular_file` reads only regular files (never a FIFO, device or directory, even
  behind a symlink), with a size cap, without blocking.
* :func:`parse_json` turns bytes into JSON with distinct keys, bounded depth, bounded integers and
  finite numbers; every failure is a :class:`FileRefused` with a one-line reason.
* :func:`atomic_write` writes through a unique temporary file in the destination folder and an
  atomic rename, so a reader never sees a half-written file and concurrent writers never share a
  temporary name.
* :func:`prepare_output_dir` checks, before any work is spent, that results can be written (with a
  probe file as long as the longest name the arena writes).
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

from arena.echo import clip_path, exception_text, quoted
from arena.errors import ArenaError, UsageError
from arena.limits import MAX_JSON_DEPTH, MAX_JSON_INT_DIGITS, MAX_OUTPUT_NAME_CHARS

_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}

_PROBE_PREFIX = ".arena-write-check."
_PROBE_SUFFIX = ".tmp"
_MKSTEMP_RANDOM_CHARS = 8  # the random part of a tempfile.mkstemp name
# Of the destination name, atomic_write's temporary name keeps this many characters, so it is
# never longer than the probe of prepare_output_dir (MAX_OUTPUT_NAME_CHARS).
_ATOMIC_NAME_CHARS = 80
assert 1 + _ATOMIC_NAME_CHARS + 1 + _MKSTEMP_RANDOM_CHARS + len(".tmp") <= MAX_OUTPUT_NAME_CHARS
_HINTS = {errno.EROFS: "read-only file system", errno.ENAMETOOLONG: "name too long",
          errno.EACCES: "permission denied", errno.ENOTDIR: "a parent is not a directory",
          errno.ELOOP: "a symlink loop", errno.ENOSPC: "no space left on the device"}


class FileRefused(ArenaError):
    """A file that cannot be used; the message is the reason (without the file name)."""


def _describe(exc: OSError) -> str:
    return exception_text(exc)


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


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object whose keys are distinct: a repeated key would silently drop the first value."""
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {quoted(key)}")
            seen.add(key)
    return value


def parse_json_text(text: str) -> Any:
    """JSON with distinct keys, finite numbers, bounded integers and at most ``MAX_JSON_DEPTH`` levels."""
    if not text.strip():
        raise FileRefused("the file is empty (or only whitespace); expected JSON")
    try:
        value = json.loads(text, parse_float=_finite_float, parse_int=_bounded_int,
                           parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise FileRefused(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise FileRefused(f"invalid JSON: nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:
        raise FileRefused(f"invalid JSON: {exception_text(exc)}") from None
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
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:_ATOMIC_NAME_CHARS]}.", suffix=".tmp")
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


def _broken_link(path: Path) -> str | None:
    """``"X is a dangling symlink"`` / ``"... a symlink loop"`` for ``path`` or an ancestor, else None."""
    for candidate in (path, *path.parents):
        if not os.path.islink(candidate):
            continue
        try:
            os.stat(candidate)
        except OSError as exc:
            name = "" if candidate == path else f"{clip_path(candidate)} "
            if exc.errno == errno.ELOOP:
                return f"{name}is a symlink loop"
            try:
                target = os.readlink(candidate)
            except OSError:  # pragma: no cover - it was a link a moment ago
                target = "?"
            return f"{name}is a dangling symlink (to {clip_path(target)})"
    return None


def _probe(path: Path) -> None:
    """Create and remove a file whose name is as long as the longest name the arena writes."""
    pad = MAX_OUTPUT_NAME_CHARS - len(_PROBE_PREFIX) - _MKSTEMP_RANDOM_CHARS - len(_PROBE_SUFFIX)
    fd, probe = tempfile.mkstemp(dir=path, prefix=_PROBE_PREFIX + "x" * pad, suffix=_PROBE_SUFFIX)
    try:
        os.write(fd, b"ok")
    finally:
        os.close(fd)
        os.unlink(probe)


def prepare_output_dir(path: Path, *, flag: str = "--out") -> Path:
    """Create ``path`` if needed and prove that a file with the longest name the arena writes
    (``MAX_OUTPUT_NAME_CHARS``) can be written there; else a one-line UsageError naming ``flag``."""
    where = f"{flag} {clip_path(path)}"
    try:
        if path.exists() and not path.is_dir():
            raise UsageError(f"{where}: exists and is not a directory; choose a folder")
        path.mkdir(parents=True, exist_ok=True)
        _probe(path)
    except UsageError:
        raise
    except ValueError as exc:  # an embedded NUL byte
        raise UsageError(f"{where}: unusable path ({exception_text(exc)})") from None
    except OSError as exc:
        link = _broken_link(path)
        if link is not None:
            raise UsageError(f"{where}: {link}; choose a folder") from None
        reason = _HINTS.get(exc.errno or 0, exception_text(exc))
        if exc.errno == errno.ENAMETOOLONG:
            reason += f": no room for the {MAX_OUTPUT_NAME_CHARS}-character file names the arena writes"
        raise UsageError(f"{where}: not writable ({reason}); choose a writable folder") from None
    return path


def prepare_output_file(path: Path, *, flag: str = "--out") -> Path:
    """Prove before any work that ``path`` can be written by :func:`atomic_write`: its folder is
    created and probed (:func:`prepare_output_dir`), its name fits the file system, and it is not a
    folder; else a one-line UsageError naming ``flag``."""
    where = f"{flag} {clip_path(path)}"
    parent = path.parent if str(path.parent) else Path(".")
    prepare_output_dir(parent, flag=flag)
    try:
        limit = os.pathconf(parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    if len(os.fsencode(path.name)) > limit:
        raise UsageError(f"{where}: the file name is longer than the {limit} bytes this file system allows; "
                         "choose a shorter name")
    if path.is_dir():
        raise UsageError(f"{where} is a directory; valid: a file path")
    return path
