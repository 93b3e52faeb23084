"""The images a report shows, inline as ``data:`` URIs: each scenario image once at full size (long
side at most 1600 px) in the report's image section, and a small thumbnail in every turn that sent
it, linking there. An image is shown only when the library's file is the one the transcript
recorded (its sha256 equals the recorded source sha256); otherwise the turn says why it is not."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from arena.clients.base import ImageLimits
from arena.clients.images import fit_image
from arena.errors import ArenaError
from arena.schemas.calls import ImageRef
from arena.schemas.messages import ImagePart
from scenarios.library import ScenarioLibrary

FULL = ImageLimits(max_side=1600, max_bytes=1_500_000)
THUMBNAIL = ImageLimits(max_side=240, max_bytes=16_000)  # a turn shows a small copy; JPEG when PNG is larger


@dataclass(frozen=True)
class ShownImage:
    anchor: str
    scenario_id: str
    image_id: str
    sha256: str  # of the library file (the source the transcript recorded)
    caption: str
    full_uri: str
    thumbnail_uri: str
    width: int
    height: int


@dataclass(frozen=True)
class Missing:
    reason: str


def _uri(part: ImagePart) -> str:
    return f"data:{part.media_type};base64,{base64.b64encode(part.data).decode('ascii')}"


class ImageShelf:
    """Scenario images read once each, keyed by (scenario, image id)."""

    def __init__(self, library: ScenarioLibrary) -> None:
        self.library = library
        self.shown: dict[str, ShownImage] = {}  # by sha256, in order of first use
        self._read: dict[tuple[str, str], ShownImage | Missing] = {}

    def _load(self, scenario_id: str, image_id: str) -> ShownImage | Missing:
        try:
            scenario = self.library.get(scenario_id)
            data = self.library.image_bytes(scenario)
        except ArenaError as exc:
            return Missing(f"not available: {exc}")
        image = next((i for i in scenario.images if i.id == image_id), None)
        if image is None or image_id not in data:
            return Missing(f"not available: scenario {scenario_id} has no image {image_id} any more")
        part = ImagePart(image_id=image_id, media_type=image.media_type, data=data[image_id])
        full, ref = fit_image(part, FULL)
        thumb, _ = fit_image(part, THUMBNAIL)
        caption = " · ".join(x for x in (image.description, image.acquired) if x)
        return ShownImage(anchor=f"img-{image.sha256[:16]}", scenario_id=scenario_id, image_id=image_id,
                          sha256=image.sha256, caption=caption, full_uri=_uri(full), thumbnail_uri=_uri(thumb),
                          width=ref.width, height=ref.height)

    def get(self, scenario_id: str, image_id: str, ref: ImageRef | None) -> ShownImage | Missing:
        key = (scenario_id, image_id)
        if key not in self._read:
            self._read[key] = self._load(scenario_id, image_id)
        found = self._read[key]
        if isinstance(found, ShownImage):
            if ref is not None and ref.source_sha256 != found.sha256:
                return Missing(f"the library's {image_id} (sha256 {found.sha256[:12]}…) is not the image this "
                               f"transcript sent (source sha256 {ref.source_sha256[:12]}…): not shown")
            self.shown.setdefault(found.sha256, found)
        return found
