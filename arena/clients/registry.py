"""Model specs (``provider/model``) to clients. One registry for targets, simulators and judges."""

from __future__ import annotations

import re

from arena.clients.base import ModelClient
from arena.echo import quoted
from arena.errors import UsageError
from arena.schemas.scenario import Scenario

FIXED_REFERENCE_MODELS = ("oracle", "pixel", "blind", "overconfident", "hedger")
REFERENCE_MODELS = ("oracle", "skill-<p>", "pixel", "blind", "overconfident", "hedger")
DEMO_MODELS = (
    "reference/oracle",
    "reference/skill-0.3",
    "reference/pixel",
    "reference/blind",
    "reference/overconfident",
    "reference/hedger",
)
_SKILL = re.compile(r"skill-(?P<p>[0-9]*\.?[0-9]+)")  # always fullmatch: "$" accepts a final newline


def valid_specs() -> str:
    return ", ".join(f"reference/{name}" for name in REFERENCE_MODELS)


def check_spec(spec: str) -> None:
    """Raise ``UsageError`` naming the valid choices when ``spec`` is not a known model."""
    provider, _, model = spec.partition("/")
    if provider != "reference" or not model:
        raise UsageError(f"unknown model spec {quoted(spec)} (provider {quoted(provider)}); valid: {valid_specs()}")
    match = _SKILL.fullmatch(model)
    if match:
        p = float(match["p"])
        if not 0.0 <= p <= 1.0:
            raise UsageError(f"model spec {quoted(spec)}: skill p must be in 0..1; valid: {valid_specs()}")
        return
    if model not in FIXED_REFERENCE_MODELS:
        raise UsageError(f"unknown reference model {quoted(spec)}; valid: {valid_specs()}")


def create_client(spec: str, *, scenario: Scenario, seed: int) -> ModelClient:
    """Build the client for ``spec``. Reference models are per scenario and seed."""
    check_spec(spec)
    _, _, model = spec.partition("/")
    from agents.reference import blind, truth_readers

    if model == "oracle":
        return truth_readers.Oracle(spec, scenario, seed)
    if match := _SKILL.fullmatch(model):
        return truth_readers.Skilled(spec, scenario, seed, degrade=float(match["p"]))
    if model == "overconfident":
        return truth_readers.Overconfident(spec, scenario, seed)
    if model == "hedger":
        return truth_readers.Hedger(spec, scenario, seed)
    if model == "blind":
        return blind.Blind(spec)
    if model == "pixel":
        from agents.reference import pixel

        return pixel.Pixel(spec)
    raise UsageError(f"unknown reference model {quoted(spec)}; valid: {valid_specs()}")  # pragma: no cover
