"""The composition root: the one module of ``arena`` that imports ``agents``.

It registers the providers, builds the simulator (rule-based policy, answer reader, template or
model voice) and the judge (offline rubric judge or a model), reads the target's system prompt,
and hands everything to the orchestration (runner, encounter graph, ``arena serve``) as the
protocols of :mod:`arena.protocols`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from agents.judge.model_judge import ModelJudge
from agents.judge.rubric_judge import RubricJudge
from agents.reference.provider import DEMO_MODELS, SERVED_MODELS, ReferenceProvider
from agents.simulator.assess import assess_answer
from agents.simulator.model_voice import ModelVoice
from agents.simulator.policy import RuleBasedPolicy
from agents.simulator.voice import TemplateVoice
from arena.cache import ResponseCache
from arena.clients.registry import Registry
from arena.config import EndpointConfig, ModelsConfig
from arena.echo import quoted
from arena.encounter import run as encounter_run
from arena.errors import UsageError
from arena.gateway import Gateway
from arena.protocols import EncounterBound, Judge, ModelClient, Simulator
from arena.providers.anthropic_messages import AnthropicProvider
from arena.providers.openai_chat import OpenAICompatibleProvider, OpenAIProvider
from arena.schemas.scenario import Mode, Scenario
from arena.schemas.transcript import Transcript

TARGET_PROMPTS = Path(__file__).resolve().parents[1] / "agents" / "prompts" / "target_system.json"
RULE_BASED = "rule-based"  # --simulator default
RUBRIC = "rubric"  # --judge default

__all__ = ["DEMO_MODELS", "RUBRIC", "RULE_BASED", "SERVED_MODELS", "Cast", "build_cast", "create_client",
           "default_simulator", "registry", "run_encounter", "target_system_prompt"]


@cache
def registry() -> Registry:
    """Every provider, one registration each."""
    return Registry([ReferenceProvider(), OpenAIProvider(), AnthropicProvider(), OpenAICompatibleProvider()])


@cache
def target_system_prompt(mode: Mode) -> str:
    prompts: dict[str, str] = json.loads(TARGET_PROMPTS.read_text(encoding="utf-8"))
    return prompts[mode.value]


def default_simulator() -> Simulator:
    return Simulator(policy=RuleBasedPolicy(), reader=assess_answer, voice=TemplateVoice())


def with_base_url(config: ModelsConfig, base_url: str | None) -> ModelsConfig:
    """``--base-url``: the URL of ``openai-compatible/...`` specs (a configured endpoint keeps its own)."""
    if not base_url:
        return config
    current = config.endpoints.get("openai-compatible") or EndpointConfig(provider="openai-compatible")
    endpoints = {**config.endpoints, "openai-compatible": current.model_copy(update={"base_url": base_url})}
    return config.model_copy(update={"endpoints": endpoints})


def create_client(spec: str, *, scenario: Scenario | None = None, seed: int = 0, config: ModelsConfig | None = None,
                  http_client: Any = None) -> ModelClient:
    """The client for ``spec``; reference truth readers are bound to ``scenario`` when given."""
    client = registry().create(spec, config, http_client=http_client)
    if scenario is not None:
        return encounter_run.bind_client(client, scenario, seed)
    if not isinstance(client, ModelClient):
        raise UsageError(f"{quoted(spec)} reads the case, so it needs a scenario")
    return client


def _check_role_spec(spec: str, role: str, config: ModelsConfig) -> None:
    """A simulator or judge spec: any provider model, but no reference model that reads the case."""
    resolved = registry().check(spec, config)
    if resolved.endpoint.provider == "reference" and resolved.model not in SERVED_MODELS:
        default = RULE_BASED if role == "simulator" else RUBRIC
        raise UsageError(f"--{role} {quoted(spec)}: this reference model reads the hidden case and cannot play "
                         f"the {role}; valid: {default} or a provider model")


def _model_role_client(spec: str, role: str, config: ModelsConfig, http_client: Any) -> ModelClient:
    _check_role_spec(spec, role, config)
    client = registry().create(spec, config, http_client=http_client)
    assert isinstance(client, ModelClient)  # _check_role_spec refused the models that need binding
    return client


@dataclass
class Cast:
    """Everything one run plays with, built once: target clients (per spec), the simulator, the
    judge, the gateway (cache, concurrency limits, call counts) and the models config."""

    config: ModelsConfig
    gateway: Gateway
    simulator: Simulator
    judge: Judge
    http_client: Any = None
    _targets: dict[str, ModelClient | EncounterBound] = field(default_factory=dict)

    def target(self, spec: str) -> ModelClient | EncounterBound:
        if spec not in self._targets:
            self._targets[spec] = registry().create(spec, self.config, http_client=self.http_client)
        return self._targets[spec]

    def close(self) -> None:
        if self.gateway.cache is not None:
            self.gateway.cache.close()


def check_specs(target_specs: list[str], simulator: str, judge: str, config: ModelsConfig) -> None:
    """Every spec of a run valid (provider known, key set, base URL given) before any work."""
    for spec in target_specs:
        registry().check(spec, config)
    for role, spec, default in (("simulator", simulator, RULE_BASED), ("judge", judge, RUBRIC)):
        if spec != default:
            _check_role_spec(spec, role, config)


def build_cast(*, simulator: str = RULE_BASED, judge: str = RUBRIC, config: ModelsConfig | None = None,
               cache_path: Path | None = None, gateway: Gateway | None = None, http_client: Any = None) -> Cast:
    config = config or ModelsConfig()
    if gateway is None:
        gateway = Gateway(cache=ResponseCache(cache_path) if cache_path else None)
    sim = default_simulator()
    if simulator != RULE_BASED:
        voice = ModelVoice(_model_role_client(simulator, "simulator", config, http_client), simulator)
        sim = Simulator(policy=RuleBasedPolicy(), reader=assess_answer, voice=voice)
    chosen: Judge = RubricJudge()
    if judge != RUBRIC:
        chosen = ModelJudge(_model_role_client(judge, "judge", config, http_client), judge, gateway)
    return Cast(config=config, gateway=gateway, simulator=sim, judge=chosen, http_client=http_client)


async def run_encounter(scenario: Scenario, target: ModelClient | EncounterBound, images: dict[str, bytes], *,
                        simulator: Simulator | None = None, mode: Mode | None = None,
                        **options: Any) -> Transcript:
    """:func:`arena.encounter.run.run_encounter` with the defaults filled in (rule-based simulator,
    the target system prompt of the mode); what tests, benchmarks and scripts call."""
    chosen = mode or scenario.default_mode
    return await encounter_run.run_encounter(
        scenario, target, images, simulator=simulator or default_simulator(),  # type: ignore[arg-type]
        system_prompt=target_system_prompt(chosen), mode=chosen, **options)
