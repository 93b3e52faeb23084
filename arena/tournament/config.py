"""A tournament's settings: flags, a TOML file (``--config``) holding any of them, or both (a flag
given on the command line wins over the file).

```toml
models = ["reference/oracle", "reference/skill-0.3", "openai/gpt-4o"]
scenarios = "tag:dermatology,cxr-pneumothorax"   # ids, tag:T, starter, all; comma-separated union
seeds = 3
seed = 0
mode = "default"                                  # default | patient | clinician | all
scheduler = "adaptive"                            # round-robin | swiss | adaptive
matches = 400
concurrency = 8
judge = ["rubric"]                                # several: a jury
simulator = "rule-based"
max_turns = 7
bootstrap = 1000
run = "derm-oct"
out = "transcripts"
models_file = "models.toml"
```

The settings that decide *which matches exist and how they are judged* (``IDENTITY``) are stored with
the run; ``--resume`` takes them from the store and refuses a flag that contradicts them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from pydantic import Field, ValidationError, field_validator, model_validator

from arena.config import Strict, read_toml
from arena.echo import choices, clip, clip_path, quoted
from arena.encounter.run import DEFAULT_MAX_TURNS
from arena.errors import UsageError
from arena.limits import MAX_TURNS
from arena.schemas.scenario import Mode
from arena.tournament.schedule import SchedulerName, Slot
from scenarios.library import ScenarioLibrary

MAX_CONFIG_BYTES = 1_000_000
MAX_MODELS = 200
MAX_SEED = 2**63 - 1
ModeChoice = Literal["default", "patient", "clinician", "all"]
IDENTITY = ("models", "scenarios", "seeds", "seed", "mode", "scheduler", "matches", "judge", "simulator", "max_turns",
            "bootstrap", "library")
DEFAULT_OUT = "transcripts"
STARTER = ("derm-changing-mole", "derm-ambiguous-lesion", "cxr-multiple-nodules", "xr-tibia-lucent-lesion")


def distinct(value: list[str]) -> list[str]:
    repeated = sorted({m for m in value if value.count(m) > 1})
    if repeated:
        raise ValueError(f"{repeated[0]} is listed more than once")
    return value


class RunSettings(Strict):
    """What a tournament and a benchmark (``arena.bench.config``) share: which models play which
    scenarios, modes and seeds, who judges and simulates, where the run lives."""

    models: list[str] = Field(min_length=1, max_length=MAX_MODELS)
    scenarios: str = Field(default="all", max_length=10_000)
    seeds: int = Field(default=1, ge=1, le=1000)
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    mode: ModeChoice = "default"
    concurrency: int = Field(default=4, ge=1, le=1024)
    judge: list[str] = Field(default_factory=lambda: ["rubric"], min_length=1, max_length=16)
    simulator: str = "rule-based"
    max_turns: int = Field(default=DEFAULT_MAX_TURNS, ge=1, le=MAX_TURNS)
    bootstrap: int = Field(default=1000, ge=10, le=100_000)
    run: str | None = None
    out: str = DEFAULT_OUT
    models_file: str | None = None
    base_url: str | None = None
    library: str | None = None
    faults: str | None = Field(default=None, max_length=1000, description="A rehearsal: faults every target meets "
                               "(arena.faults; not part of the run's identity)")

    @field_validator("models", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value

    @field_validator("scenarios", mode="before")
    @classmethod
    def _join(cls, value: Any) -> Any:
        return ",".join(value) if isinstance(value, list) else value

    @field_validator("models")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        return distinct(value)

    @model_validator(mode="after")
    def _seeds_fit(self) -> RunSettings:
        if self.seed + self.seeds - 1 > MAX_SEED:
            raise ValueError(f"seeds {self.seed}..{self.seed + self.seeds - 1} go past the largest seed, {MAX_SEED}")
        return self


S = TypeVar("S", bound=RunSettings)


class TournamentSettings(RunSettings):
    models: list[str] = Field(min_length=2, max_length=MAX_MODELS)
    scheduler: SchedulerName = "round-robin"
    matches: int | None = Field(default=None, ge=1, le=10_000_000)

    def identity(self) -> dict[str, Any]:
        return self.model_dump(mode="json", include=set(IDENTITY))


def problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    msg = str(first["msg"]).removeprefix("Value error, ")
    return f"{clip(where, 80)}: {clip(msg, 200)}"


def load_file(path: Path, model: type[RunSettings] = TournamentSettings) -> dict[str, Any]:
    """The TOML file's keys (checked against ``model``'s settings, unknown keys named with the valid
    ones; ``kind``, which a run stores about itself, is not a setting)."""
    where = clip_path(path)
    if not path.exists():
        raise UsageError(f"--config {where}: no such file")
    data = read_toml(path, what="--config", limit=MAX_CONFIG_BYTES)
    valid = [k for k in model.model_fields if k != "kind"]
    unknown = sorted(set(data) - set(valid))
    if unknown:
        raise UsageError(f"--config {where}: unknown key {quoted(unknown[0])}; valid: {choices(valid)}")
    return data


def settings(given: dict[str, Any], file: Path | None, model: type[S] = TournamentSettings,  # type: ignore[assignment]
             command: str = "arena tournament") -> S:
    """The options given (the file's, with the flags over them) over the defaults; ``file`` only names
    the file in a message."""
    values = {k: v for k, v in given.items() if v is not None}
    if "models" not in values:
        raise UsageError(f"{command}: --models is required (or models = [...] in --config)")
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        where = f"--config {clip_path(file)}: " if file is not None else ""
        raise UsageError(f"{command}: {where}{problem(exc)}") from None


def select_scenarios(library: ScenarioLibrary, selector: str) -> list[str]:
    """``all``, ``starter``, ``tag:T`` or ids, comma-separated (a union, library order)."""
    ids = library.ids()
    chosen: set[str] = set()
    for term in (t.strip() for t in selector.split(",")):
        if not term:
            continue
        if term == "all":
            chosen.update(ids)
        elif term == "starter":
            chosen.update(s for s in STARTER if s in ids)
        elif term.startswith("tag:"):
            tag = term[4:]
            found = [i for i in ids if tag in library.get(i).tags]
            if not found:
                tags = sorted({t for i in ids for t in library.get(i).tags})
                raise UsageError(f"--scenarios: no scenario has tag {quoted(tag)}; valid: {choices(tags)}")
            chosen.update(found)
        elif term in ids:
            chosen.add(term)
        else:
            raise UsageError(f"--scenarios: unknown scenario {quoted(term)}; valid: all, starter, tag:T or "
                             f"{choices(ids)}")
    if not chosen:
        raise UsageError("--scenarios selects no scenario; valid: all, starter, tag:T or scenario ids")
    return [i for i in ids if i in chosen]


class SlotChoice(Protocol):
    """What :func:`slots` reads: a tournament's or a benchmark's settings."""

    scenarios: str
    seed: int
    seeds: int
    mode: ModeChoice


def slots(library: ScenarioLibrary, s: SlotChoice) -> list[Slot]:
    """Every (scenario, mode, seed) the settings name, seed-major (a prefix covers every scenario)."""
    out: list[Slot] = []
    scenarios = [library.get(i) for i in select_scenarios(library, s.scenarios)]
    for seed in range(s.seed, s.seed + s.seeds):
        for scenario in scenarios:
            if s.mode == "default":
                modes = [scenario.default_mode]
            elif s.mode == "all":
                modes = list(scenario.modes)
            else:
                modes = [m for m in scenario.modes if m is Mode(s.mode)]
            out.extend((scenario.id, m, seed) for m in modes)
    if not out:
        raise UsageError(f"--mode {s.mode}: none of the selected scenarios supports it")
    return out
