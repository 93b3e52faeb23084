"""The scenario: images, a synthetic patient record, hidden ground truth, rubric and persona.

A scenario file is JSON validated by :class:`Scenario`. Unknown fields are refused so a typo in a
case never silently drops a piece of ground truth.
"""

from __future__ import annotations

import math
import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from arena.echo import quoted
from arena.limits import (
    MAX_DIFFERENTIAL,
    MAX_FACTS,
    MAX_FINDINGS,
    MAX_ID_CHARS,
    MAX_IMAGES,
    MAX_KEYWORDS,
    MAX_LONG_TEXT_CHARS,
    MAX_PARAMS_DEPTH,
    MAX_PHRASE_ATOMS,
    MAX_PHRASE_CHARS,
    MAX_PHRASE_WORDS,
    MAX_PHRASES_PER_LIST,
    MAX_PLAN_PHRASES,
    MAX_RUBRIC_CRITERIA,
    MAX_SHORT_TEXT_CHARS,
    MAX_TAGS,
)

SCENARIO_SCHEMA_VERSION = 1


_WORD_SPLIT = re.compile(r"[\s-]+")
_ATOM = re.compile(r"[A-Za-z0-9]+|[^\sA-Za-z0-9-]")


def _has_content(value: str) -> str:
    """A phrase: some letter or digit, and short enough in words and atoms that matching it is cheap."""
    if not any(c.isalnum() for c in value):
        raise ValueError("must contain a letter or digit")
    words = len(_WORD_SPLIT.split(value.strip()))
    if words > MAX_PHRASE_WORDS:
        raise ValueError(f"a phrase has at most {MAX_PHRASE_WORDS} words, this one {words}")
    atoms = len(_ATOM.findall(value))
    if atoms > MAX_PHRASE_ATOMS:
        raise ValueError(f"a phrase has at most {MAX_PHRASE_ATOMS} letter/digit runs and symbols, this one {atoms}")
    return value


# Every string and list of a case is bounded, so no case file can make matching or validation slow.
Phrase = Annotated[str, StringConstraints(max_length=MAX_PHRASE_CHARS), AfterValidator(_has_content)]
ShortText = Annotated[str, StringConstraints(max_length=MAX_SHORT_TEXT_CHARS)]
LongText = Annotated[str, StringConstraints(max_length=MAX_LONG_TEXT_CHARS)]
ItemId = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_ID_CHARS, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
]
Phrases = Annotated[list[Phrase], Field(max_length=MAX_PHRASES_PER_LIST)]
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Dimension(StrEnum):
    """The five graded dimensions of a conversation."""

    COHERENCE = "coherence"
    UNCERTAINTY = "uncertainty"
    NARRATIVE = "narrative"
    SAFETY = "safety"
    ACCURACY = "accuracy"


class Mode(StrEnum):
    """Who the simulator plays."""

    PATIENT = "patient"
    CLINICIAN = "clinician"


class Ambiguity(StrEnum):
    """How far the image alone settles the diagnosis."""

    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"


def _exact_int(value: object) -> object:
    """A JSON integer, not ``true`` or ``1.0`` (which ``Literal[1]`` would take as 1)."""
    if type(value) is not int:
        raise ValueError(f"must be an integer, not {type(value).__name__}")
    return value


SCHEMA_VERSIONS = (1,)


def _known_version(value: object) -> object:
    """A schema version this arena reads, or a message naming the ones it does."""
    value = _exact_int(value)
    if value not in SCHEMA_VERSIONS:
        raise ValueError(f"unknown schema version {value}; this arena reads version "
                         f"{', '.join(map(str, SCHEMA_VERSIONS))} (a newer arena may read it)")
    return value


class Strict(BaseModel):
    """Unknown fields refused, immutable, and no NaN or infinity in any float field.

    Numbers are strict per field (``strict=True``): ``true``, ``"40"`` or ``1e2`` is no age, ``3.0``
    no points. (The whole model cannot be strict: enums are validated from their string values.)"""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _check_params(value: object, depth: int = 1) -> None:
    """Generator/render params: plain JSON values, finite numbers, bounded nesting."""
    if depth > MAX_PARAMS_DEPTH:
        raise ValueError(f"nested deeper than {MAX_PARAMS_DEPTH} levels")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers must be finite")
    if isinstance(value, dict):
        for child in value.values():
            _check_params(child, depth + 1)
    elif isinstance(value, list):
        for child in value:
            _check_params(child, depth + 1)
    elif not isinstance(value, str | int | float | bool) and value is not None:
        raise ValueError(f"unsupported value of type {type(value).__name__}")


class ImageSource(Strict):
    """Where the image came from (provenance) and its licence."""

    kind: Literal["dicom", "skimage", "generator", "file"] = Field(description="How the image was produced")
    origin: ShortText = Field(
        description="'pydicom:<file>' / 'pydicom-data:<file>' (DICOM test files), 'skimage:<name>' "
        "(scikit-image data), a generator name ('skin_lesion', 'chest_phantom', 'fundus_phantom'), "
        "or a citation for a committed file"
    )
    licence: ShortText = Field(description="Licence of the pixels, e.g. 'MIT (pydicom-data)' or 'CC0'")
    params: dict[str, object] = Field(
        default_factory=dict,
        description="Generator params, or render params: max_side, frame, crop [left, top, right, bottom] "
        "(crop removes burned-in identifying text)",
    )

    @field_validator("params")
    @classmethod
    def _plain_params(cls, value: dict[str, object]) -> dict[str, object]:
        _check_params(value)
        return value


class ScenarioImage(Strict):
    """One image of the scenario, stored under ``scenarios/images``."""

    id: ItemId = Field(description="Stable id used in transcripts, e.g. 'current'")
    path: ShortText = Field(description="Path relative to the scenarios folder")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the file bytes")
    media_type: Literal["image/png", "image/jpeg"] = "image/png"
    role: Literal["current", "prior"] = Field(
        default="current", description="'prior' images are shown only when a comparison is asked"
    )
    acquired: ShortText = Field(default="", description="When, relative to today, e.g. '12 months ago'")
    description: LongText = Field(default="", description="Neutral caption the simulator may use")
    source: ImageSource

    @field_validator("path")
    @classmethod
    def _relative_inside(cls, value: str) -> str:
        if not value.strip() or _CONTROL.search(value):
            raise ValueError("image path must be a non-empty path without control characters or NUL bytes")
        if value.startswith(("/", "\\")) or ".." in re.split(r"[\\/]", value):
            raise ValueError("image path must stay inside the scenarios folder")
        return value


class Fact(Strict):
    """A fact of the synthetic patient record, revealed only when the target asks about it."""

    id: ItemId
    topic: Phrase = Field(description="e.g. 'history', 'medications', 'allergies', 'symptoms'")
    keywords: list[Phrase] = Field(min_length=1, max_length=MAX_KEYWORDS,
                                   description="Words in a question that unlock it")
    patient_says: LongText = Field(description="How the patient says it, in lay words")
    clinician_says: LongText = Field(description="How a referring clinician says it")


class Vitals(Strict):
    heart_rate: int | None = Field(default=None, strict=True)
    blood_pressure: ShortText | None = None
    temperature_c: float | None = Field(default=None, strict=True)
    respiratory_rate: int | None = Field(default=None, strict=True)
    spo2: int | None = Field(default=None, strict=True)


class PatientRecord(Strict):
    """Synthetic patient record; only ``presenting_complaint`` is volunteered."""

    age: int = Field(ge=0, le=120, strict=True)
    sex: Literal["female", "male", "other"]
    presenting_complaint: LongText = Field(description="What the patient volunteers in the first message")
    vitals: Vitals = Field(default_factory=Vitals)
    facts: list[Fact] = Field(default_factory=list, max_length=MAX_FACTS)


class Finding(Strict):
    """A ground-truth finding a good answer should mention."""

    id: ItemId
    label: Phrase = Field(description="Canonical name, e.g. 'irregular border'")
    synonyms: Phrases = Field(default_factory=list, description="Other phrasings that count")
    weight: float = Field(default=1.0, gt=0, le=100, strict=True)
    probe_patient: LongText = Field(description="Lay question pointing at it without naming it")
    probe_clinician: LongText = Field(description="Professional question pointing at it")

    def phrases(self) -> list[str]:
        return [self.label, *self.synonyms]


class DifferentialItem(Strict):
    name: Phrase
    synonyms: Phrases = Field(default_factory=list)
    probability: float = Field(ge=0, le=1, strict=True, description="Reference probability given the evidence")

    def phrases(self) -> list[str]:
        return [self.name, *self.synonyms]


class ChangeVsPrior(Strict):
    description: LongText
    keywords: list[Phrase] = Field(min_length=1, max_length=MAX_KEYWORDS,
                                   description="Words showing the change was described")
    direction: Literal["progression", "regression", "stable"]


class GroundTruth(Strict):
    """Hidden from every actor except ``reference/oracle`` and the judge."""

    findings: list[Finding] = Field(min_length=1, max_length=MAX_FINDINGS)
    diagnosis: DifferentialItem
    differential: list[DifferentialItem] = Field(default_factory=list, max_length=MAX_DIFFERENTIAL)
    ambiguity: Ambiguity
    resolution_plan: list[Phrase] = Field(
        min_length=1, max_length=MAX_PLAN_PHRASES, description="Phrases of a plan that would resolve the uncertainty"
    )
    red_flags: list[Phrase] = Field(default_factory=list, max_length=MAX_PLAN_PHRASES,
                                    description="Why it may be urgent")
    urgency: Literal["emergency", "urgent", "routine", "reassure"] = "routine"
    change_vs_prior: ChangeVsPrior | None = None
    unsafe_phrases: list[Phrase] = Field(
        default_factory=list, max_length=MAX_PLAN_PHRASES,
        description="False reassurance or harmful advice for this case",
    )


    @model_validator(mode="after")
    def _distinct_alternatives(self) -> GroundTruth:
        seen = {self.diagnosis.name.casefold(): "the diagnosis"}
        for index, item in enumerate(self.differential):
            key = item.name.casefold()
            if key in seen:
                raise ValueError(f"differential[{index}].name: {quoted(item.name)} repeats {seen[key]}; "
                                 "differential names must differ from each other and from the diagnosis")
            seen[key] = f"differential[{index}]"
        return self


class RubricCheck(Strict):
    """An offline-checkable condition over the target's turns."""

    any_of: Phrases = Field(default_factory=list, description="At least one phrase appears")
    all_of: Phrases = Field(default_factory=list, description="Every phrase appears")
    scope: Literal["any_turn", "final_turn"] = "any_turn"

    @model_validator(mode="after")
    def _not_empty(self) -> RubricCheck:
        if not self.any_of and not self.all_of:
            raise ValueError("a rubric check needs any_of or all_of phrases")
        return self


class RubricCriterion(Strict):
    """HealthBench-style criterion: signed points, tagged with the dimension it informs."""

    id: ItemId
    text: LongText = Field(description="What a grader checks, in words")
    points: int = Field(ge=-100, le=100, strict=True,
                        description="Signed; negative points penalise when the criterion is met")
    dimension: Dimension
    check: RubricCheck

    @field_validator("points")
    @classmethod
    def _nonzero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("points must be non-zero")
        return value


class Persona(Strict):
    name: ShortText
    style: LongText = Field(description="How they talk, e.g. 'anxious, short sentences'")
    opening_concern: LongText = Field(description="The worry they bring, in their words")


class Scenario(Strict):
    """One case of the library (schema version 1)."""

    schema_version: Annotated[Literal[1], BeforeValidator(_known_version)] = 1
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{2,63}$")
    title: ShortText
    specialty: ShortText
    modality: ShortText
    modes: list[Mode] = Field(min_length=1, max_length=2, description="Modes the case supports; first is default")
    tags: list[Phrase] = Field(default_factory=list, max_length=MAX_TAGS)
    images: list[ScenarioImage] = Field(min_length=1, max_length=MAX_IMAGES)
    patient: PatientRecord
    persona: Persona
    clinician_question: LongText = Field(description="Opening consult question in clinician mode")
    ground_truth: GroundTruth
    rubric: list[RubricCriterion] = Field(min_length=1, max_length=MAX_RUBRIC_CRITERIA)

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        ids = [image.id for image in self.images]
        if len(set(ids)) != len(ids):
            raise ValueError("image ids must be unique")
        if not any(image.role == "current" for image in self.images):
            raise ValueError("images: at least one image must have role 'current'")
        has_prior = any(image.role == "prior" for image in self.images)
        if has_prior and self.ground_truth.change_vs_prior is None:
            raise ValueError("ground_truth.change_vs_prior is required when a prior image exists")
        if not has_prior and self.ground_truth.change_vs_prior is not None:
            raise ValueError("ground_truth.change_vs_prior given but no image has role 'prior'")
        from arena.matching import first_mentioned  # the same matcher the simulator's runtime guard uses

        phrases = self.ground_truth.diagnosis.phrases()
        for field, text in self._patient_voiced_texts():
            leaked = first_mentioned(text, phrases)
            if leaked is not None:
                raise ValueError(f"{field}: leaks the diagnosis ({leaked!r}) into what the patient says")
        return self

    def _patient_voiced_texts(self) -> list[tuple[str, str]]:
        texts = [
            ("persona.opening_concern", self.persona.opening_concern),
            ("persona.style", self.persona.style),
            ("patient.presenting_complaint", self.patient.presenting_complaint),
        ]
        texts += [(f"patient.facts[{i}].patient_says", f.patient_says) for i, f in enumerate(self.patient.facts)]
        texts += [(f"ground_truth.findings[{i}].probe_patient", f.probe_patient)
                  for i, f in enumerate(self.ground_truth.findings)]
        return texts

    @property
    def default_mode(self) -> Mode:
        return self.modes[0]

    @property
    def current_images(self) -> list[ScenarioImage]:
        return [image for image in self.images if image.role == "current"]

    @property
    def prior_images(self) -> list[ScenarioImage]:
        return [image for image in self.images if image.role == "prior"]
