"""The ``reference`` provider: the built-in offline models, named ``reference/<name>``.

The truth readers (oracle, skill-p, overconfident, hedger) read the case, so they are built
unbound and bound to each encounter (``for_encounter``); pixel and blind need nothing but what
they are sent. No scenario is needed to build any of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from agents.reference import blind, gaming, truth_readers
from arena.config import EndpointConfig
from arena.echo import quoted
from arena.errors import UsageError
from arena.protocols import EncounterBound, ModelClient
from arena.schemas.scenario import Scenario

GAMING_MODELS = ("echo", "boilerplate", "keyword-stuffer")  # baselines a sound judge ranks last
FIXED_REFERENCE_MODELS = ("oracle", "pixel", "blind", "overconfident", "hedger", *GAMING_MODELS)
REFERENCE_MODELS = ("oracle", "skill-<p>", "pixel", "blind", "overconfident", "hedger", *GAMING_MODELS)
DEMO_MODELS = (
    "reference/oracle",
    "reference/skill-0.3",
    "reference/pixel",
    "reference/blind",
    "reference/overconfident",
    "reference/hedger",
    "reference/echo",
    "reference/boilerplate",
    "reference/keyword-stuffer",
)
SERVED_MODELS = ("pixel", "blind")  # the image-reading models ``arena serve`` offers
_SKILL = re.compile(r"skill-(?P<p>[0-9]*\.?[0-9]+)")  # always fullmatch: "$" accepts a final newline

Build = Callable[[Scenario, int], ModelClient]


class UnboundReference:
    """A truth reader before it knows the case: ``for_encounter`` gives the client."""

    supports_images = True

    def __init__(self, name: str, build: Build) -> None:
        self.name = name
        self._build = build

    def for_encounter(self, scenario: Scenario, seed: int) -> ModelClient:
        return self._build(scenario, seed)

    def __repr__(self) -> str:
        return f"UnboundReference({self.name!r})"


def valid_specs() -> str:
    return ", ".join(f"reference/{name}" for name in REFERENCE_MODELS)


class ReferenceProvider:
    name = "reference"
    summary = "built-in offline models of known skill (no key, no network)"

    def check(self, model: str, endpoint: EndpointConfig) -> None:
        spec = f"{endpoint.name}/{model}"
        match = _SKILL.fullmatch(model)
        if match:
            if not 0.0 <= float(match["p"]) <= 1.0:
                raise UsageError(f"model spec {quoted(spec)}: skill p must be in 0..1; valid: {valid_specs()}")
            return
        if model not in FIXED_REFERENCE_MODELS:
            raise UsageError(f"unknown reference model {quoted(spec)}; valid: {valid_specs()}")

    def create(self, model: str, endpoint: EndpointConfig, *, http_client: Any = None) -> ModelClient | EncounterBound:
        spec = f"{endpoint.name}/{model}"
        if model == "pixel":
            # Imported here: the pixel model's image analysis (scipy, scikit-image) costs half a second
            # of start-up that every other command (``arena --help`` included) would pay.
            from agents.reference import pixel

            return pixel.Pixel(spec)
        if model == "blind":
            return blind.Blind(spec)
        if model == "echo":
            return gaming.Echo(spec)
        if model == "boilerplate":
            return gaming.Boilerplate(spec)
        readers: dict[str, Build] = {
            "oracle": lambda s, seed: truth_readers.Oracle(spec, s, seed),
            "overconfident": lambda s, seed: truth_readers.Overconfident(spec, s, seed),
            "hedger": lambda s, seed: truth_readers.Hedger(spec, s, seed),
            "keyword-stuffer": lambda s, seed: gaming.KeywordStuffer(spec, s),
        }
        if (match := _SKILL.fullmatch(model)) is not None:
            p = float(match["p"])
            return UnboundReference(spec, lambda s, seed: truth_readers.Skilled(spec, s, seed, degrade=p))
        return UnboundReference(spec, readers[model])

    def known_models(self) -> list[str]:
        return [f"reference/{name}" for name in REFERENCE_MODELS]
