"""Play one encounter with a target spec, judge it, and write the transcript."""

from __future__ import annotations

from pathlib import Path

from agents.judge.rubric_judge import Judge, RubricJudge
from arena.clients.registry import create_client
from arena.encounter.run import DEFAULT_MAX_TURNS, run_encounter
from arena.errors import UsageError
from arena.schemas.scenario import Mode, Scenario
from arena.schemas.transcript import Transcript
from scenarios.library import ScenarioLibrary


def resolve_mode(scenario: Scenario, mode: str | None) -> Mode:
    if mode is None:
        return scenario.default_mode
    try:
        chosen = Mode(mode)
    except ValueError:
        raise UsageError(f"unknown mode {mode!r}; valid: patient, clinician") from None
    if chosen not in scenario.modes:
        valid = ", ".join(m.value for m in scenario.modes)
        raise UsageError(f"scenario {scenario.id!r} does not support mode {mode!r}; valid: {valid}")
    return chosen


async def play(
    library: ScenarioLibrary,
    scenario_id: str,
    target_spec: str,
    *,
    mode: str | None = None,
    seed: int = 0,
    max_turns: int = DEFAULT_MAX_TURNS,
    judge: Judge | None = None,
) -> Transcript:
    """Run and judge one encounter. Infrastructure failures come back unjudged."""
    scenario = library.get(scenario_id)
    chosen = resolve_mode(scenario, mode)
    target = create_client(target_spec, scenario=scenario, seed=seed)
    transcript = await run_encounter(
        scenario, target, library.image_bytes(scenario), mode=chosen, seed=seed, max_turns=max_turns
    )
    if transcript.termination.is_infrastructure:
        return transcript
    judge = judge or RubricJudge()
    verdict = await judge.judge(transcript, scenario)
    return transcript.model_copy(update={"verdict": verdict, "judge": judge.name})


def transcript_filename(transcript: Transcript) -> str:
    safe_target = transcript.target.replace("/", "_")
    return f"{transcript.scenario_id}__{safe_target}__{transcript.mode.value}__s{transcript.seed}.json"


def save_transcript(transcript: Transcript, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / transcript_filename(transcript)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(transcript.model_dump_json(indent=2), encoding="utf-8")
    tmp.replace(path)
    return path
