"""Load and check scenario files and their images.

Every failure names the file, the field and the reason (``ScenarioError``); image bytes are
verified against the pinned sha256 and decoded before they can reach a model.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from PIL import Image
from pydantic import ValidationError

from arena.echo import choices, clip, clip_path, exception_text, quoted
from arena.errors import ScenarioError, UsageError
from arena.files import FileRefused, load_json_file, read_regular_file
from arena.limits import (
    MAX_CASE_FILE_BYTES,
    MAX_IMAGE_BYTES,
    MAX_IMAGE_PIXELS,
    MAX_PROBLEMS_IN_ERROR,
    MAX_PROBLEMS_PER_FILE,
    MAX_REASON_CHARS,
)
from arena.schemas.scenario import Scenario, ScenarioImage
from scenarios.leaks import Finder, matcher_finder, text_problems

SCENARIOS_ROOT = Path(__file__).resolve().parent
ALLOWED_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg"}
# Leading bytes of the formats the arena can name when it refuses them.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"BM", "BMP"), (b"RIFF", "WEBP"), (b"\x00\x00\x01\x00", "ICO"),
)


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


@dataclass(frozen=True)
class Problem:
    """One reason a scenario file is not usable: the file, the field and why.

    Each part is clipped (``arena.echo``), so a hostile key or path cannot make a problem huge."""

    file: str
    field: str
    reason: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "file", clip_path(self.file))
        object.__setattr__(self, "field", clip(self.field))
        object.__setattr__(self, "reason", clip(self.reason, MAX_REASON_CHARS))

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.reason}"


def cap_problems(file: str, problems: list[Problem], total: int | None = None) -> list[Problem]:
    """At most ``MAX_PROBLEMS_PER_FILE`` problems of one file, the last saying how many more there are
    (``total`` when the caller built only the first ones)."""
    total = len(problems) if total is None else total
    if total <= MAX_PROBLEMS_PER_FILE:
        return problems
    kept = problems[: MAX_PROBLEMS_PER_FILE - 1]
    return [*kept, Problem(file, "(file)", f"... and {total - len(kept)} more problems")]


def _validation_problems(path: Path, exc: ValidationError) -> list[Problem]:
    """The first problems of ``exc`` (``exc.errors()`` is built once; only the kept ones are read)."""
    problems = []
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    for err in errors[:MAX_PROBLEMS_PER_FILE]:
        field, reason = _field_path(tuple(err["loc"])), str(err["msg"]).removeprefix("Value error, ")
        # Model-level checks name their field at the start of the message ("field: reason").
        head, _, rest = reason.partition(": ")
        if rest and " " not in head:
            field, reason = (head if field == "(root)" else f"{field}.{head}"), rest
        problems.append(Problem(str(path), field, reason))
    return cap_problems(str(path), problems, len(errors))


def parse_scenario_file(path: Path) -> tuple[Scenario | None, list[Problem]]:
    """Parse one scenario JSON file, collecting every problem rather than the first."""
    try:
        raw = load_json_file(path, limit=MAX_CASE_FILE_BYTES)
    except FileRefused as exc:
        return None, [Problem(str(path), "(file)", str(exc))]
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        return None, _validation_problems(path, exc)
    if scenario.id != path.stem:
        return scenario, [Problem(str(path), "id", f"{scenario.id!r} does not match the file name {quoted(path.stem)}")]
    return scenario, []


def load_scenario_file(path: Path) -> Scenario:
    """Parse one scenario JSON file; errors name the file and the first offending fields."""
    scenario, problems = parse_scenario_file(path)
    if problems or scenario is None:
        shown = "; ".join(str(p) for p in problems[:MAX_PROBLEMS_IN_ERROR])
        more = len(problems) - MAX_PROBLEMS_IN_ERROR
        if more > 0:
            shown += f"; and more problems (see: arena scenarios validate {clip_path(path)})"
        raise ScenarioError(shown)
    return scenario


class ImageRefused(ScenarioError):
    """An image that may not reach a model; ``field`` is relative to the image entry."""

    def __init__(self, where: str, field: str, reason: str) -> None:
        super().__init__(f"{where}{'.' + field if field else ''}: {reason}")
        self.field = field
        self.reason = reason


def read_image_bytes(root: Path, image: ScenarioImage, *, scenario_file: str = "") -> bytes:
    """Read, pin-check and decode-check one image; refuse with a reason otherwise."""
    where = f"{scenario_file or root}: images[{image.id}]"
    try:
        path = (root / image.path).resolve()
    except (OSError, ValueError) as exc:
        raise ImageRefused(where, "path", f"unusable path {quoted(image.path)}: {exception_text(exc)}") from None
    if not path.is_relative_to(root.resolve()):
        raise ImageRefused(where, "path", f"{quoted(image.path)} escapes the scenarios folder")
    if not path.exists():
        raise ImageRefused(where, "path", f"image file {quoted(image.path)} does not exist")
    try:
        data = read_regular_file(path, limit=MAX_IMAGE_BYTES)
    except FileRefused as exc:
        raise ImageRefused(where, "path", f"image file {quoted(image.path)}: {exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != image.sha256:
        raise ImageRefused(where, "sha256", f"file hashes to {digest}, scenario pins {image.sha256}")
    check_image_bytes(data, where=where, media_type=image.media_type)
    return data


def sniff_format(data: bytes) -> str | None:
    """The image format named by the leading bytes, or None."""
    for signature, name in _SIGNATURES:
        if data.startswith(signature):
            return name
    return None


def check_image_bytes(data: bytes, *, where: str, media_type: str | None = None,
                      formats: tuple[str, ...] = tuple(ALLOWED_FORMATS)) -> tuple[int, int]:
    """Decode fully, refusing other formats than ``formats`` (and than ``media_type`` when given),
    decompression bombs and corrupt files. Returns (width, height)."""
    found = sniff_format(data)
    if found not in formats:
        allowed = ", ".join(f"{f} ({ALLOWED_FORMATS[f]})" if f in ALLOWED_FORMATS else f for f in formats)
        raise ImageRefused(where, "", f"image content is {found or 'not a known image format'}; allowed: {allowed}")
    if media_type is not None and ALLOWED_FORMATS.get(found) != media_type:
        raise ImageRefused(where, "media_type", f"declared {media_type} but the bytes are {found}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[found]) as probe:
                width, height = probe.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise ImageRefused(
                        where, "", f"{width}x{height} pixels exceeds {MAX_IMAGE_PIXELS} (decompression bomb guard)"
                    )
                probe.verify()
            with Image.open(io.BytesIO(data), formats=[found]) as full:
                full.load()
    except ScenarioError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRefused(where, "", f"refused as a decompression bomb: {exception_text(exc)}") from exc
    except Exception as exc:  # PIL raises many types for corrupt data; their text may hold object addresses
        reason = re.sub(r"\s*<[^<>]*object( at 0x[0-9a-f]+)?>", "", exception_text(exc))  # no repr of PIL's buffer
        raise ImageRefused(where, "", f"image does not decode (truncated or corrupt): {reason}") from exc
    return width, height


class ScenarioLibrary:
    """The scenarios under ``root/cases``; images resolve relative to ``root``."""

    def __init__(self, root: Path = SCENARIOS_ROOT) -> None:
        self.root = root
        # Verified image bytes, read and decode-checked once per (path, pin): many encounters of a
        # scenario (every model, every seed) share one copy instead of one each.
        self._images: dict[tuple[str, str, str], bytes] = {}

    @cached_property
    def _files(self) -> dict[str, Path]:
        cases = self.root / "cases"
        try:
            if not cases.is_dir():
                what = "does not exist" if not self.root.exists() else "has no cases/ folder"
                raise UsageError(f"scenario library {quoted(clip_path(self.root))} {what} "
                                 "(a library is a folder holding cases/*.json and images/)")
            paths = sorted(cases.glob("*.json"))
        except OSError as exc:
            raise UsageError(f"scenario library {quoted(clip_path(self.root))}: cannot read "
                             f"({exception_text(exc)})") from None
        return {path.stem: path for path in paths}

    def ids(self) -> list[str]:
        return list(self._files)

    def get(self, scenario_id: str) -> Scenario:
        path = self._files.get(scenario_id)
        if path is None:
            where = "arena scenarios list" if self.root == SCENARIOS_ROOT else f"{clip_path(self.root / 'cases')}/"
            valid = choices(self.ids(), more=f"see {where}")
            raise UsageError(f"unknown scenario {quoted(scenario_id)}; valid: {valid}")
        return load_scenario_file(path)

    def all(self) -> list[Scenario]:
        return [self.get(scenario_id) for scenario_id in self.ids()]

    def image_bytes(self, scenario: Scenario) -> dict[str, bytes]:
        """Verified bytes of every image of ``scenario``, keyed by image id."""
        where = str(self._files.get(scenario.id, self.root))
        out: dict[str, bytes] = {}
        for img in scenario.images:
            key = (img.path, img.sha256, img.media_type)  # everything read_image_bytes checks against
            data = self._images.get(key)
            if data is None:
                data = read_image_bytes(self.root, img, scenario_file=where)
                self._images[key] = data
            out[img.id] = data
        return out


def scenario_root_for(path: Path) -> Path:
    """The folder image paths are relative to: the parent of ``cases/``, else the file's folder."""
    folder = path.resolve().parent
    return folder.parent if folder.name == "cases" else folder


def validate_paths(paths: list[Path], *, find: Finder = matcher_finder) -> tuple[int, list[Problem]]:
    """Check every scenario file under ``paths`` (files or folders), images included, and every text
    the simulator voices (``scenarios.leaks``: no credit-earning phrase, found by ``find``; no jargon
    from a patient).

    Returns (files checked, problems). Never stops at the first bad file.
    """
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            cases = path / "cases"
            files += sorted((cases if cases.is_dir() else path).glob("*.json"))
        else:
            files.append(path)
    problems: list[Problem] = []
    for file in files:
        scenario, found = parse_scenario_file(file)
        if scenario is not None:
            root = scenario_root_for(file)
            for index, image in enumerate(scenario.images):
                try:
                    read_image_bytes(root, image, scenario_file=str(file))
                except ImageRefused as exc:
                    field = f"images[{index}]" + (f".{exc.field}" if exc.field else "")
                    found.append(Problem(str(file), field, exc.reason))
            found += [Problem(str(file), field, reason) for field, reason in text_problems(scenario, find)]
        problems += cap_problems(str(file), found)
    return len(files), problems
