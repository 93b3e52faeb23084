"""Images named by imported records: found offline, read as regular files, checked, converted to
PNG when needed, prepared once per source file, and written under content-hashed names."""

from __future__ import annotations

import hashlib
import io
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from PIL import Image

from arena.echo import clip_path, exception_text, quoted
from arena.errors import ScenarioError, UsageError
from arena.files import FileRefused, read_regular_file
from arena.limits import MAX_IMAGE_BYTES, MAX_IMPORT_IMAGE_CACHE_BYTES
from scenarios.importers.common import Refused
from scenarios.library import check_image_bytes

SOURCE_FORMATS = ("PNG", "JPEG", "GIF", "TIFF", "BMP", "WEBP")  # other formats are converted to PNG


@dataclass(frozen=True)
class Prepared:
    """A source image read, checked and (if need be) converted: what any record naming it uses."""

    data: bytes
    ext: str
    media_type: str
    digest: str
    name: str


@dataclass(frozen=True)
class ImportImage:
    """An image ready to be written: its bytes, where it goes, and its scenario entry."""

    data: bytes
    rel: str
    entry: dict[str, Any]


def _usable(check: Callable[[], bool], source: str) -> bool:
    """``check()`` (an ``exists``/``is_file`` of a record's image path); an unusable path (too
    long, a NUL byte, a loop) is a short named refusal, never the path's full text."""
    try:
        return check()
    except ValueError:
        raise Refused("image path contains a NUL byte") from None
    except OSError as exc:
        raise Refused(f"image {quoted(source)} cannot be used: {exception_text(exc)}") from None


def find_image(source: str, base_dir: Path, image_dir: Path | None) -> Path:
    parsed = urlparse(source)
    if parsed.scheme in ("http", "https"):
        name = Path(unquote(parsed.path)).name
        if image_dir is not None and name and _usable((image_dir / name).is_file, source):
            return image_dir / name
        raise Refused(f"image_url {quoted(source)} is remote and the arena runs offline; download it and "
                      "pass --image-dir with the file")
    if "\x00" in source:
        raise Refused("image path contains a NUL byte")
    path = Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(source)
    candidates = [path] if path.is_absolute() else [base_dir / path]
    if image_dir is not None and path.name:
        candidates.append(image_dir / path.name)
    for candidate in candidates:
        if _usable(candidate.exists, source):
            return candidate
    raise Refused(f"image {quoted(source)} not found")


def prepare_source(src: Path) -> Prepared:
    """Read, check and (for formats other than PNG/JPEG) convert one source image; write nothing."""
    try:
        data = read_regular_file(src, limit=MAX_IMAGE_BYTES)
    except FileRefused as exc:
        raise Refused(f"image {quoted(src.name)}: {exc}") from None
    try:
        check_image_bytes(data, where=clip_path(src), formats=SOURCE_FORMATS)
    except ScenarioError as exc:
        raise Refused(f"image refused: {exc}") from None
    try:
        with Image.open(io.BytesIO(data), formats=list(SOURCE_FORMATS)) as img:
            fmt = (img.format or "").upper()
            if fmt not in ("PNG", "JPEG"):
                buffer = io.BytesIO()
                img.convert("RGB").save(buffer, format="PNG")
                data, fmt = buffer.getvalue(), "PNG"
    except Exception as exc:  # PIL raises many types
        raise Refused(f"image {quoted(src.name)} cannot be converted to PNG: {exception_text(exc)}") from None
    ext, media = (".png", "image/png") if fmt == "PNG" else (".jpg", "image/jpeg")
    return Prepared(data, ext, media, hashlib.sha256(data).hexdigest(), src.name)


class ImageCache:
    """Prepared source images of one import, keyed by resolved path, size and mtime, so records
    naming the same image decode and convert it once. Refusals are remembered too; the bytes kept
    are bounded (``MAX_IMPORT_IMAGE_CACHE_BYTES``, least recently used dropped first)."""

    def __init__(self, budget: int = MAX_IMPORT_IMAGE_CACHE_BYTES, max_entries: int = 4096) -> None:
        self._entries: OrderedDict[tuple[str, int, int], Prepared | str] = OrderedDict()
        self._budget = budget
        self._max_entries = max_entries
        self._bytes = 0

    def prepare(self, src: Path) -> Prepared:
        try:
            info = os.stat(src)
            key = (str(src.resolve()), info.st_size, info.st_mtime_ns)
        except ValueError:
            raise Refused("image path contains a NUL byte") from None
        except OSError as exc:
            raise Refused(f"image {quoted(src.name)}: cannot read: {exception_text(exc)}") from None
        cached = self._entries.get(key)
        if cached is None:
            try:
                cached = prepare_source(src)
            except Refused as exc:
                cached = str(exc)
            self._remember(key, cached)
        else:
            self._entries.move_to_end(key)
        if isinstance(cached, str):
            raise Refused(cached)
        return cached

    def _remember(self, key: tuple[str, int, int], value: Prepared | str) -> None:
        size = len(value.data) if isinstance(value, Prepared) else 0
        if size > self._budget:
            return
        self._entries[key] = value
        self._bytes += size
        while self._bytes > self._budget or len(self._entries) > self._max_entries:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= len(dropped.data) if isinstance(dropped, Prepared) else 0


def prepare_image(src: Path, case_id: str, images: ImageCache) -> ImportImage:
    """The scenario entry and bytes of the record's image (prepared once per source, see
    :class:`ImageCache`). The file name carries the content hash, so an import never replaces
    another case's image."""
    prepared = images.prepare(src)
    rel = f"images/imported/{case_id}-{prepared.digest[:12]}{prepared.ext}"
    entry = {"id": "current", "path": rel, "sha256": prepared.digest,
             "media_type": prepared.media_type, "role": "current", "acquired": "unknown",
             "source": {"kind": "file", "origin": f"AgentClinic import of {prepared.name}"[:300],
                        "licence": "unknown: check the licence of the original image before sharing"}}
    return ImportImage(data=prepared.data, rel=rel, entry=entry)


def same_image(image_path: Path, image: ImportImage) -> bool:
    try:
        data = read_regular_file(image_path, limit=MAX_IMAGE_BYTES)
    except FileRefused as exc:
        raise Refused(f"{clip_path(image_path)} exists and cannot be read: {exc}") from None
    return hashlib.sha256(data).hexdigest() == image.entry["sha256"]


def check_image_options(image_dir: Path | None, pair_image: Path | None, images: ImageCache) -> None:
    """``--image-dir`` must be a folder and ``--image`` a usable image: one usage error, before any
    record is read (rather than the same refusal for every record, or a silently ignored folder)."""
    if image_dir is not None:
        where = f"--image-dir {clip_path(image_dir)}"
        try:
            exists, is_dir = image_dir.exists(), image_dir.is_dir()
        except (OSError, ValueError) as exc:
            raise UsageError(f"{where}: unusable path ({exception_text(exc)})") from None
        if not exists:
            raise UsageError(f"{where}: does not exist; pass the folder holding the records' images")
        if not is_dir:
            raise UsageError(f"{where}: is not a folder; pass the folder holding the records' images")
    if pair_image is not None:
        try:
            images.prepare(pair_image)
        except Refused as exc:
            raise UsageError(f"--image {clip_path(pair_image)}: {exc}") from None
