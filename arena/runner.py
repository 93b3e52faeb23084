"""Play encounters for the CLI: validate everything first, prepare the run folder, play, judge, save.

A *run* is one invocation's folder of transcripts, ``<out>/<run name>/``. Its name is given
(``--run``) or generated (``match-20261201-141233-3fa2``). Before any encounter is played it is
checked to be writable and claimed (an exclusively created ``.arena-run`` marker, so two
invocations never share a run); a transcript file is never overwritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from arena import composition
from arena.composition import Cast
from arena.config import ModelsConfig
from arena.echo import clip_path, exception_text, quoted
from arena.encounter.clock import Clock
from arena.encounter.run import DEFAULT_MAX_TURNS, check_max_turns, run_encounter
from arena.errors import ArenaError, UsageError
from arena.files import atomic_write, prepare_output_dir
from arena.limits import MAX_OUTPUT_NAME_CHARS
from arena.protocols import JudgeFailed
from arena.schemas.calls import ModelCall, UsageSummary
from arena.schemas.scenario import Mode, Scenario
from arena.schemas.transcript import Ablation, JudgeError, Transcript
from scenarios.library import ScenarioLibrary

RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # always fullmatch: "$" accepts a final newline
TRANSCRIPTS_ROOT = Path("transcripts")  # where runs go by default (--out, --runs)
RUN_MARKER = ".arena-run"  # created exclusively in a run folder by the invocation that owns it
MAX_TRANSCRIPT_NAME_CHARS = MAX_OUTPUT_NAME_CHARS
_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def resolve_mode(scenario: Scenario, mode: str | None) -> Mode:
    if mode is None:
        return scenario.default_mode
    try:
        chosen = Mode(mode)
    except ValueError:
        raise UsageError(f"unknown mode {quoted(mode)}; valid: patient, clinician") from None
    if chosen not in scenario.modes:
        valid = ", ".join(m.value for m in scenario.modes)
        raise UsageError(f"scenario {scenario.id!r} does not support mode {quoted(mode)}; valid: {valid}")
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
    ablation: Ablation | None = None


def plan_encounter(library: ScenarioLibrary, scenario_id: str, target_spec: str, *, mode: str | None = None,
                   seed: int = 0, max_turns: int = DEFAULT_MAX_TURNS,
                   config: ModelsConfig | None = None) -> EncounterPlan:
    """Check every input of an encounter (case, images, spec, mode, budget) without playing it."""
    composition.registry().check(target_spec, config)
    check_max_turns(max_turns)
    scenario = library.get(scenario_id)
    chosen = resolve_mode(scenario, mode)
    return EncounterPlan(scenario, library.image_bytes(scenario), target_spec, chosen, seed, max_turns)


async def play(plan: EncounterPlan, cast: Cast | None = None, *, run: str | None = None,
               clock: Clock | None = None) -> Transcript:
    """Run and judge one encounter. Infrastructure failures come back unjudged; a judge that
    gives no valid verdict is recorded as a judge error, never as a score."""
    cast = cast or composition.build_cast()
    transcript = await run_encounter(
        plan.scenario, cast.target(plan.target_spec), plan.images, simulator=cast.simulator,
        system_prompt=composition.target_system_prompt(plan.mode, plan.ablation), mode=plan.mode, seed=plan.seed,
        max_turns=plan.max_turns, clock=clock, run=run, gateway=cast.gateway, target_spec=plan.target_spec,
        ablation=plan.ablation)
    return await judge_transcript(transcript, plan.scenario, cast)


async def judge_transcript(transcript: Transcript, scenario: Scenario, cast: Cast) -> Transcript:
    """The verdict (or the judge error) and the closing differential added; an infrastructure
    failure comes back unjudged."""
    if transcript.termination.is_infrastructure:
        return transcript
    judge_calls: list[ModelCall] = []
    update: dict[str, object] = {"judge": cast.judge.name,
                                 "closing_differential": composition.closing_differential(transcript, scenario)}
    try:
        update["verdict"] = await cast.judge.judge(transcript, scenario, calls=judge_calls)
    except JudgeFailed as exc:
        judge_calls = judge_calls or exc.calls
        update["judge_error"] = JudgeError(judge=cast.judge.name, message=str(exc)[:2000],
                                           attempts=len(judge_calls))
    if judge_calls:
        calls = [*transcript.calls, *judge_calls]
        update.update({"calls": calls, "usage": UsageSummary.of(calls)})
    return transcript.model_copy(update=update)


def new_run_name(command: str) -> str:
    return f"{command}-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def check_run_name(name: str) -> str:
    if not RUN_NAME.fullmatch(name):
        raise UsageError(f"run name {quoted(name, 80)} is not valid; use 1-64 letters, digits, '.', '_' or '-', "
                         "starting with a letter or digit")
    return name


def _claim(run_dir: Path, run: str) -> None:
    """Make ``run_dir`` this invocation's: an exclusive create of ``RUN_MARKER`` (``O_EXCL``), so of
    concurrent invocations naming one run exactly one proceeds; the others are refused before
    anything is played. A folder holding anything (a marker, transcripts) is never claimed."""
    taken = UsageError(f"run {quoted(run)} already exists in {clip_path(run_dir.parent)}; "
                       "choose another --run name")
    if any(run_dir.iterdir()):
        raise taken
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(run_dir / RUN_MARKER, flags, 0o644)
    except FileExistsError:
        raise taken from None
    except OSError as exc:
        raise UsageError(f"--run {run}: cannot claim the run folder ({exception_text(exc)})") from None
    try:
        os.write(fd, json.dumps({"run": run, "pid": os.getpid(),
                                 "claimed": datetime.now(UTC).isoformat(timespec="seconds")}).encode() + b"\n")
    finally:
        os.close(fd)


def prepare_run_dir(root: Path, run: str) -> Path:
    """``root/run``, created, proven writable and claimed (see :func:`_claim`); an existing
    non-empty run is refused."""
    check_run_name(run)
    prepare_output_dir(root)
    run_dir = root / run
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"--run {run}: {clip_path(run_dir)} exists and is not a directory; "
                         "choose another --run name")
    prepare_output_dir(run_dir, flag="--run")
    _claim(run_dir, run)
    return run_dir


def transcript_filename(transcript: Transcript) -> str:
    """``<scenario>__<target>__<mode>__s<seed>.json`` (see :func:`transcript_name`)."""
    return transcript_name(transcript.scenario_id, transcript.target, transcript.mode, transcript.seed,
                           transcript.ablation)


def transcript_name(scenario_id: str, target_spec: str, mode: Mode, seed: int, ablation: Ablation | None = None,
                    ) -> str:
    """``<scenario>__<target>__<mode>__s<seed>.json`` (``...__s<seed>__no-<ablation>.json`` under an
    ablation), with the target made safe for any file system: a deterministic name per encounter of a run.

    At most ``MAX_TRANSCRIPT_NAME_CHARS`` characters (output folders are probed for that length)."""
    target = _UNSAFE_FILE_CHARS.sub("_", target_spec)
    if target != target_spec.replace("/", "_") or len(target) > 80:
        target = f"{target[:60]}-{_digest(target_spec)}"
    suffix = f"__no-{ablation.replace('+', '-')}" if ablation else ""
    name = f"{scenario_id}__{target}__{mode.value}__s{seed}{suffix}.json"
    if len(name) > MAX_TRANSCRIPT_NAME_CHARS:
        name = f"{name[:MAX_TRANSCRIPT_NAME_CHARS - 14]}-{_digest(name)}.json"
    return name


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def save_transcript(transcript: Transcript, out_dir: Path) -> Path:
    """Write atomically; never replace an existing transcript."""
    path = out_dir / transcript_filename(transcript)
    try:
        atomic_write(path, transcript.model_dump_json(indent=2) + "\n", overwrite=False)
    except FileExistsError:
        raise ArenaError(f"transcript {clip_path(path)} already exists; not overwritten") from None
    except OSError as exc:
        raise ArenaError(f"cannot write transcript {clip_path(path)}: {exception_text(exc)}") from None
    return path
