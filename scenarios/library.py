"""Load and check scenario files and their images.

Every failure names the file, the field and the reason (``ScenarioError``); image bytes are
verified against the pinned sha256 and decoded before they can reach a model.
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from functools import cached_property
from pathlib import Path

from PIL import Image
from pydantic import ValidationError

from arena.errors import ScenarioError, UsageError
from arena.schemas.scenario import Scenario, ScenarioImage

SCENARIOS_ROOT = Path(__file__).resolve().parent
MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


def load_scenario_file(path: Path) -> Scenario:
    """Parse one scenario JSON file; errors name the file and the offending field."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from exc
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_field_path(tuple(err['loc']))}: {err['msg']}" for err in exc.errors()
        )
        raise ScenarioError(f"{path}: {problems}") from exc


def read_image_bytes(root: Path, image: ScenarioImage, *, scenario_file: str = "") -> bytes:
    """Read, pin-check and decode-check one image; refuse with a reason otherwise."""
    where = f"{scenario_file or root}: images[{image.id}]"
    path = (root / image.path).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ScenarioError(f"{where}.path: {image.path!r} escapes the scenarios folder")
    if not path.is_file():
        raise ScenarioError(f"{where}.path: image file {image.path!r} does not exist")
    size = path.stat().st_size
    if size > MAX_IMAGE_BYTES:
        raise ScenarioError(f"{where}: image is {size} bytes, over the {MAX_IMAGE_BYTES} limit")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != image.sha256:
        raise ScenarioError(f"{where}.sha256: file hashes to {digest}, scenario pins {image.sha256}")
    check_image_bytes(data, where=where)
    return data


def check_image_bytes(data: bytes, *, where: str) -> tuple[int, int]:
    """Decode fully, refusing decompression bombs and corrupt files. Returns (width, height)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                width, height = probe.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise ScenarioError(
                        f"{where}: {width}x{height} pixels exceeds {MAX_IMAGE_PIXELS} (bomb guard)"
                    )
                probe.verify()
            with Image.open(io.BytesIO(data)) as full:
                full.load()
    except ScenarioError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ScenarioError(f"{where}: refused as a decompression bomb: {exc}") from exc
    except Exception as exc:  # PIL raises many types for corrupt data
        raise ScenarioError(f"{where}: image does not decode: {exc}") from exc
    return width, height


class ScenarioLibrary:
    """The scenarios under ``root/cases``; images resolve relative to ``root``."""

    def __init__(self, root: Path = SCENARIOS_ROOT) -> None:
        self.root = root

    @cached_property
    def _files(self) -> dict[str, Path]:
        files: dict[str, Path] = {}
        for path in sorted((self.root / "cases").glob("*.json")):
            files[path.stem] = path
        return files

    def ids(self) -> list[str]:
        return list(self._files)

    def get(self, scenario_id: str) -> Scenario:
        path = self._files.get(scenario_id)
        if path is None:
            valid = ", ".join(self.ids()) or "(none)"
            raise UsageError(f"unknown scenario {scenario_id!r}; valid: {valid}")
        scenario = load_scenario_file(path)
        if scenario.id != scenario_id:
            raise ScenarioError(f"{path}: id: {scenario.id!r} does not match the file name")
        return scenario

    def all(self) -> list[Scenario]:
        return [self.get(scenario_id) for scenario_id in self.ids()]

    def image_bytes(self, scenario: Scenario) -> dict[str, bytes]:
        """Verified bytes of every image of ``scenario``, keyed by image id."""
        where = str(self._files.get(scenario.id, self.root))
        return {img.id: read_image_bytes(self.root, img, scenario_file=where) for img in scenario.images}
