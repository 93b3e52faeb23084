"""Images really reach vision targets, byte for byte; the blind model never gets them."""

from __future__ import annotations

import hashlib

from arena.clients.base import RecordingClient
from arena.composition import create_client
from arena.schemas.messages import ImagePart
from arena.schemas.scenario import Scenario
from arena.schemas.transcript import MoveKind, TerminationReason
from scenarios.library import SCENARIOS_ROOT, ScenarioLibrary
from tests.conftest import run
from tests.helpers import encounter


def _images(request_messages: list) -> list[ImagePart]:  # type: ignore[type-arg]
    return [part for m in request_messages for part in m.parts if isinstance(part, ImagePart)]


def test_current_and_prior_bytes_reach_vision_target(library: ScenarioLibrary, mole: Scenario) -> None:
    target = RecordingClient(create_client("reference/oracle", scenario=mole, seed=0))
    transcript = run(encounter(library, mole, target))
    current = (SCENARIOS_ROOT / mole.current_images[0].path).read_bytes()
    prior = (SCENARIOS_ROOT / mole.prior_images[0].path).read_bytes()
    first = _images(target.requests[0].messages)
    assert [p.data for p in first] == [current]
    assert first[0].sha256 == hashlib.sha256(current).hexdigest() == mole.current_images[0].sha256
    compare_turn = next(t for t in transcript.turns if t.move and t.move.kind == MoveKind.REQUEST_COMPARISON)
    later = _images(target.requests[-1].messages)
    assert [p.data for p in later] == [current, prior]
    assert compare_turn.images == ["prior"] and compare_turn.image_sha256 == [mole.prior_images[0].sha256]


def test_blind_target_never_receives_an_image(library: ScenarioLibrary, mole: Scenario) -> None:
    target = RecordingClient(create_client("reference/blind", scenario=mole, seed=0))
    assert target.supports_images is False
    transcript = run(encounter(library, mole, target))
    assert transcript.termination == TerminationReason.COMPLETED
    assert target.requests, "the blind target was called"
    assert all(not _images(r.messages) for r in target.requests)
    # The transcript still records that images were shown to the conversation.
    assert transcript.turns[0].images == ["current"]
