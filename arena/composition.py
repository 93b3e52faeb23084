"""The composition root: the one module of ``arena`` that imports ``agents``.

It registers the providers, builds the simulator (rule-based policy, answer reader, template or
model voice) and the judge (offline rubric judge or a model), reads the target's system prompt,
and hands everything to the orchestration (runner, encounter graph, ``arena serve``) as the
protocols of :mod:`arena.protocols`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from agents.judge.differential import read_closing_differential
from agents.judge.model_judge import ModelJudge
from agents.judge.pairwise_judge import ModelPairwiseJudge
from agents.judge.rubric_judge import RubricJudge
from agents.reference.provider import DEMO_MODELS, SERVED_MODELS, ReferenceProvider
from agents.simulator.assess import assess_answer, judge_finder
from agents.simulator.model_voice import ModelVoice
from agents.simulator.policy import RuleBasedPolicy
from agents.simulator.voice import TemplateVoice
from arena.cache import ResponseCache
from arena.clients.registry import Registry
from arena.config import EndpointConfig, ModelsConfig
from arena.echo import quoted
from arena.encounter import run as encounter_run
from arena.errors import UsageError
from arena.faults import FaultDraw, FaultPlan, with_faults
from arena.gateway import Gateway
from arena.judging.jury import Jury
from arena.judging.pairwise import PairwiseJudge
from arena.protocols import EncounterBound, Judge, ModelClient, Simulator
from arena.providers.anthropic_messages import AnthropicProvider
from arena.providers.openai_chat import OpenAICompatibleProvider, OpenAIProvider
from arena.schemas.scenario import Mode, Scenario
from arena.schemas.transcript import Ablation, Transcript, withholds_images
from arena.schemas.verdict import ClosingDifferential

TARGET_PROMPTS = Path(__file__).resolve().parents[1] / "agents" / "prompts" / "target_system.json"
RULE_BASED = "rule-based"  # --simulator default
RUBRIC = "rubric"  # --judge default

__all__ = ["DEMO_MODELS", "RUBRIC", "RULE_BASED", "SERVED_MODELS", "Cast", "build_cast", "build_judge",
           "build_pairwise_judge", "create_client", "default_simulator", "judge_specs", "registry", "run_encounter",
           "target_system_prompt"]


@cache
def registry() -> Registry:
    """Every provider, one registration each."""
    return Registry([ReferenceProvider(), OpenAIProvider(), AnthropicProvider(), OpenAICompatibleProvider()])


@cache
def target_system_prompt(mode: Mode, ablation: Ablation | None = None) -> str:
    """The target's system prompt for ``mode``; under the image ablation one that mentions no image."""
    prompts: dict[str, str] = json.loads(TARGET_PROMPTS.read_text(encoding="utf-8"))
    return prompts[f"{mode.value}_no_image" if withholds_images(ablation) else mode.value]


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
    faults: FaultDraw | None = None  # a rehearsal (--faults): every target meets these faults
    _targets: dict[str, ModelClient | EncounterBound] = field(default_factory=dict)
    _raw: dict[str, ModelClient | EncounterBound] = field(default_factory=dict)  # as built, before any wrapper

    def target(self, spec: str) -> ModelClient | EncounterBound:
        if spec not in self._targets:
            client = registry().create(spec, self.config, http_client=self.http_client)
            self._raw[spec] = client
            self._targets[spec] = client if self.faults is None else with_faults(client, self.faults)
        return self._targets[spec]

    def close(self) -> None:
        if self.gateway.cache is not None:
            self.gateway.cache.close()

    def clients(self) -> list[object]:
        """Every model client the run has built: targets, a model simulator voice, model judges."""
        judges = self.judge.judges if isinstance(self.judge, Jury) else [self.judge]
        found: list[object] = [*self._raw.values(), getattr(self.simulator.voice, "client", None)]
        found += [getattr(j, "client", None) for j in judges]
        return [c for c in found if c is not None]

    async def aclose(self) -> None:
        """Close the HTTP connections of every client, in the run's event loop (at the end of a run;
        a later run in the same process opens new ones)."""
        for client in self.clients():
            await close_quietly(client)


async def close_quietly(client: object) -> None:
    """``client.aclose()`` if it has one; a failure to close is not the run's result, so it is dropped
    (raised from a ``finally`` it would replace the run's own exception)."""
    close = getattr(client, "aclose", None)
    if close is None:
        return
    try:
        await close()
    except Exception:  # noqa: BLE001 - see the docstring
        pass


def judge_specs(judge: str | Sequence[str]) -> list[str]:
    """``--judge`` given once, several times (a jury) or not at all (the rubric judge); a repeat is refused."""
    specs = [judge] if isinstance(judge, str) else list(judge) or [RUBRIC]
    repeated = sorted({s for s in specs if specs.count(s) > 1})
    if repeated:
        raise UsageError(f"--judge {quoted(repeated[0])} is given more than once; a jury's judges must differ")
    return specs


def check_specs(target_specs: list[str], simulator: str, judge: str | Sequence[str], config: ModelsConfig) -> None:
    """Every spec of a run valid (provider known, key set, base URL given) before any work."""
    for spec in target_specs:
        registry().check(spec, config)
    if simulator != RULE_BASED:
        _check_role_spec(simulator, "simulator", config)
    for spec in judge_specs(judge):
        if spec != RUBRIC:
            _check_role_spec(spec, "judge", config)


def build_judge(judge: str | Sequence[str], config: ModelsConfig, gateway: Gateway, http_client: Any = None) -> Judge:
    """One spec: that judge (``rubric`` the offline one); several: a :class:`Jury` of them (median)."""
    judges: list[Judge] = [
        RubricJudge() if spec == RUBRIC else ModelJudge(_model_role_client(spec, "judge", config, http_client),
                                                        spec, gateway)
        for spec in judge_specs(judge)]
    return judges[0] if len(judges) == 1 else Jury(judges)


def build_pairwise_judge(spec: str, config: ModelsConfig, gateway: Gateway,
                         http_client: Any = None) -> PairwiseJudge | Judge:
    """A model spec: a pairwise judge (asked in both orders by :func:`arena.judging.pairwise.judge_pair`);
    ``rubric``: the offline judge, compared through its absolute verdicts (``compare_pair`` picks the way)."""
    if spec == RUBRIC:
        return RubricJudge()
    return ModelPairwiseJudge(_model_role_client(spec, "judge", config, http_client), spec, gateway)


def build_cast(*, simulator: str = RULE_BASED, judge: str | Sequence[str] = RUBRIC, config: ModelsConfig | None = None,
               cache_path: Path | None = None, gateway: Gateway | None = None, http_client: Any = None,
               faults: FaultPlan | None = None) -> Cast:
    config = config or ModelsConfig()
    if gateway is None:
        gateway = Gateway(cache=ResponseCache(cache_path) if cache_path else None)
    sim = default_simulator()
    if simulator != RULE_BASED:
        voice = ModelVoice(_model_role_client(simulator, "simulator", config, http_client), simulator)
        sim = Simulator(policy=RuleBasedPolicy(), reader=assess_answer, voice=voice)
    chosen = build_judge(judge, config, gateway, http_client)
    return Cast(config=config, gateway=gateway, simulator=sim, judge=chosen, http_client=http_client,
                faults=FaultDraw(faults) if faults is not None else None)


async def run_encounter(scenario: Scenario, target: ModelClient | EncounterBound, images: dict[str, bytes], *,
                        simulator: Simulator | None = None, mode: Mode | None = None,
                        **options: Any) -> Transcript:
    """:func:`arena.encounter.run.run_encounter` with the defaults filled in (rule-based simulator,
    the target system prompt of the mode); what tests, benchmarks and scripts call."""
    chosen = mode or scenario.default_mode
    return await encounter_run.run_encounter(
        scenario, target, images, simulator=simulator or default_simulator(),  # type: ignore[arg-type]
        system_prompt=target_system_prompt(chosen, options.get("ablation")), mode=chosen, **options)


def closing_differential(transcript: Transcript, scenario: Scenario) -> ClosingDifferential:
    """The target's closing differential with probabilities, as read (for calibration)."""
    return read_closing_differential(transcript, scenario)


def leak_finder() -> Callable[[Scenario, str, Sequence[str]], str | None]:
    """How ``arena scenarios validate`` finds credit-earning phrases in simulator text: as the
    offline judge reads (synonyms, word order, units)."""
    return judge_finder


def _replaying(calls: list[Any], role: str, spec: str, config: ModelsConfig, scenario: Scenario, seed: int,
               http_client: Any = None) -> ModelClient:
    """A :class:`arena.clients.replay.ReplayClient` of ``role``'s recorded calls that the gateway treats
    exactly as the original client (its traits: image limits, params, prices; whether it sees images).
    The original client is built only to read those traits: it is never called."""
    from arena.clients.replay import ReplayClient
    from arena.secrets import placeholder_keys

    replay = ReplayClient(calls, role=role)
    with placeholder_keys():
        original = create_client(spec, scenario=scenario, seed=seed, config=config, http_client=http_client)
    replay.name = original.name
    replay.supports_images = original.supports_images
    traits = getattr(original, "traits", None)
    if traits is not None:
        replay.traits = traits  # type: ignore[attr-defined]
    return replay


def replay_cast(transcript: Transcript, scenario: Scenario, config: ModelsConfig, gateway: Gateway,
                ) -> tuple[ModelClient, Cast]:
    """The target and the cast that re-execute ``transcript`` from its recorded responses: the target
    (and a model simulator voice and a model judge, if it had them) replayed; the rule-based policy,
    the template voice and the rubric judge run again as they are."""
    target = _replaying(transcript.calls, "target", transcript.target, config, scenario, transcript.seed)
    policy = RuleBasedPolicy()
    sim = default_simulator()
    if transcript.simulator != policy.name:
        prefix = f"{policy.name}+"
        if not transcript.simulator.startswith(prefix):
            raise UsageError(f"rerun: simulator {quoted(transcript.simulator)} is not one this arena plays; valid: "
                             f"{policy.name} or {prefix}<model spec>")
        spec = transcript.simulator[len(prefix):]
        voice = ModelVoice(_replaying(transcript.calls, "simulator", spec, config, scenario, transcript.seed), spec)
        sim = Simulator(policy=policy, reader=assess_answer, voice=voice)
    judge: Judge = RubricJudge()
    name = transcript.judge or (transcript.verdict.judge if transcript.verdict else None)
    if name is not None and name != RubricJudge.name:
        if transcript.verdict is not None and transcript.verdict.panel:
            raise UsageError("rerun: a jury's verdict cannot be replayed yet; rejudge it instead (arena rejudge)")
        judge = ModelJudge(_replaying(transcript.calls, "judge", name, config, scenario, transcript.seed), name,
                           gateway)
    return target, Cast(config=config, gateway=gateway, simulator=sim, judge=judge)
