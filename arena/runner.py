"""Play encounters for the CLI: validate everything first, prepare the run folder, play, judge, save.

A *run* is one invocation's folder of transcripts, ``<out>/<run name>/``. Its name is given
(``--run``) or generated (``match-20261201-141233-3fa2``), it is checked to be writable before any
encounter is played, and a transcript file is never overwritten.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from agents.judge.rubric_judge import Judge, RubricJudge
from arena.clients.registry import check_spec, create_client
from arena.encounter.clock import Clock
from arena.encounter.run import DEFAULT_MAX_TURNS, check_max_turns, run_encounter
from arena.errors import ArenaError, UsageError
from arena.files import atomic_write, prepare_output_dir
from arena.schemas.scenario import Mode, Scenario
from arena.schemas.transcript import Transcript
from scenarios.library import ScenarioLibrary

RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


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


@dataclass(frozen=True)
class EncounterPlan:
    """One encounter, fully validated, not yet played."""

    scenario: Scenario
    images: dict[str, bytes]
    target_spec: str
    mode: Mode
    seed: int = 0
    max_turns: int = DEFAULT_MAX_TURNS


def plan_encounter(library: ScenarioLibrary, scenario_id: str, target_spec: str, *, mode: str | None = None,
                   seed: int = 0, max_turns: int = DEFAULT_MAX_TURNS) -> EncounterPlan:
    """Check every input of an encounter (case, images, spec, mode, budget) without playing it."""
    check_spec(target_spec)
    check_max_turns(max_turns)
    scenario = library.get(scenario_id)
    chosen = resolve_mode(scenario, mode)
    return EncounterPlan(scenario, library.image_bytes(scenario), target_spec, chosen, seed, max_turns)


async def play(plan: EncounterPlan, *, judge: Judge | None = None, run: str | None = None,
               clock: Clock | None = None) -> Transcript:
    """Run and judge one encounter. Infrastructure failures come back unjudged."""
    target = create_client(plan.target_spec, scenario=plan.scenario, seed=plan.seed)
    transcript = await run_encounter(plan.scenario, target, plan.images, mode=plan.mode, seed=plan.seed,
                                     max_turns=plan.max_turns, clock=clock, run=run)
    if transcript.termination.is_infrastructure:
        return transcript
    judge = judge or RubricJudge()
    verdict = await judge.judge(transcript, plan.scenario)
    return transcript.model_copy(update={"verdict": verdict, "judge": judge.name})


def new_run_name(command: str) -> str:
    return f"{command}-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def check_run_name(name: str) -> str:
    if not RUN_NAME.match(name):
        raise UsageError(f"run name {name[:80]!r} is not valid; use 1-64 letters, digits, '.', '_' or '-', "
                         "starting with a letter or digit")
    return name


def prepare_run_dir(root: Path, run: str) -> Path:
    """``root/run``, created and proven writable; an existing non-empty run is refused."""
    check_run_name(run)
    prepare_output_dir(root)
    run_dir = root / run
    if run_dir.is_dir() and any(run_dir.iterdir()):
        raise UsageError(f"run {run!r} already exists in {str(root)[:200]}; choose another --run name")
    return prepare_output_dir(run_dir)


def transcript_filename(transcript: Transcript) -> str:
    """``<scenario>__<target>__<mode>__s<seed>.json``, with the target made safe for any file system."""
    target = _UNSAFE_FILE_CHARS.sub("_", transcript.target)
    if target != transcript.target.replace("/", "_") or len(target) > 80:
        target = f"{target[:60]}-{hashlib.sha256(transcript.target.encode()).hexdigest()[:8]}"
    return f"{transcript.scenario_id}__{target}__{transcript.mode.value}__s{transcript.seed}.json"


def save_transcript(transcript: Transcript, out_dir: Path) -> Path:
    """Write atomically; never replace an existing transcript."""
    path = out_dir / transcript_filename(transcript)
    try:
        atomic_write(path, transcript.model_dump_json(indent=2) + "\n", overwrite=False)
    except FileExistsError:
        raise ArenaError(f"transcript {path} already exists; not overwritten") from None
    except OSError as exc:
        raise ArenaError(f"cannot write transcript {path}: {exc.strerror or exc}") from None
    return path
