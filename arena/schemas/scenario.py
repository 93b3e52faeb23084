"""The scenario: images, a synthetic patient record, hidden ground truth, rubric and persona.

A scenario file is JSON validated by :class:`Scenario`. Unknown fields are refused so a typo in a
case never silently drops a piece of ground truth.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SCENARIO_SCHEMA_VERSION = 1


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


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ImageSource(Strict):
    """Where the image came from (provenance) and its licence."""

    kind: Literal["dicom", "skimage", "generator", "file"] = Field(description="How the image was produced")
    origin: str = Field(
        description="'pydicom:<file>' / 'pydicom-data:<file>' (DICOM test files), 'skimage:<name>' "
        "(scikit-image data), a generator name ('skin_lesion', 'chest_phantom', 'fundus_phantom'), "
        "or a citation for a committed file"
    )
    licence: str = Field(description="Licence of the pixels, e.g. 'MIT (pydicom-data)' or 'CC0'")
    params: dict[str, object] = Field(
        default_factory=dict,
        description="Generator params, or render params: max_side, frame, crop [left, top, right, bottom] "
        "(crop removes burned-in identifying text)",
    )


class ScenarioImage(Strict):
    """One image of the scenario, stored under ``scenarios/images``."""

    id: str = Field(description="Stable id used in transcripts, e.g. 'current'")
    path: str = Field(description="Path relative to the scenarios folder")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the file bytes")
    media_type: Literal["image/png", "image/jpeg"] = "image/png"
    role: Literal["current", "prior"] = Field(
        default="current", description="'prior' images are shown only when a comparison is asked"
    )
    acquired: str = Field(default="", description="When, relative to today, e.g. '12 months ago'")
    description: str = Field(default="", description="Neutral caption the simulator may use")
    source: ImageSource

    @field_validator("path")
    @classmethod
    def _relative_inside(cls, value: str) -> str:
        if value.startswith(("/", "\\")) or ".." in re.split(r"[\\/]", value):
            raise ValueError("image path must stay inside the scenarios folder")
        return value


class Fact(Strict):
    """A fact of the synthetic patient record, revealed only when the target asks about it."""

    id: str
    topic: str = Field(description="e.g. 'history', 'medications', 'allergies', 'symptoms'")
    keywords: list[str] = Field(min_length=1, description="Words in a question that unlock it")
    patient_says: str = Field(description="How the patient says it, in lay words")
    clinician_says: str = Field(description="How a referring clinician says it")


class Vitals(Strict):
    heart_rate: int | None = None
    blood_pressure: str | None = None
    temperature_c: float | None = None
    respiratory_rate: int | None = None
    spo2: int | None = None


class PatientRecord(Strict):
    """Synthetic patient record; only ``presenting_complaint`` is volunteered."""

    age: int = Field(ge=0, le=120)
    sex: Literal["female", "male", "other"]
    presenting_complaint: str = Field(description="What the patient volunteers in the first message")
    vitals: Vitals = Field(default_factory=Vitals)
    facts: list[Fact] = Field(default_factory=list)


class Finding(Strict):
    """A ground-truth finding a good answer should mention."""

    id: str
    label: str = Field(description="Canonical name, e.g. 'irregular border'")
    synonyms: list[str] = Field(default_factory=list, description="Other phrasings that count")
    weight: float = Field(default=1.0, gt=0)
    probe_patient: str = Field(description="Lay question pointing at it without naming it")
    probe_clinician: str = Field(description="Professional question pointing at it")

    def phrases(self) -> list[str]:
        return [self.label, *self.synonyms]


class DifferentialItem(Strict):
    name: str
    synonyms: list[str] = Field(default_factory=list)
    probability: float = Field(ge=0, le=1, description="Reference probability given the evidence")

    def phrases(self) -> list[str]:
        return [self.name, *self.synonyms]


class ChangeVsPrior(Strict):
    description: str
    keywords: list[str] = Field(min_length=1, description="Words showing the change was described")
    direction: Literal["progression", "regression", "stable"]


class GroundTruth(Strict):
    """Hidden from every actor except ``reference/oracle`` and the judge."""

    findings: list[Finding] = Field(min_length=1)
    diagnosis: DifferentialItem
    differential: list[DifferentialItem] = Field(default_factory=list)
    ambiguity: Ambiguity
    resolution_plan: list[str] = Field(
        min_length=1, description="Phrases of a plan that would resolve the uncertainty"
    )
    red_flags: list[str] = Field(default_factory=list, description="Why it may be urgent")
    urgency: Literal["emergency", "urgent", "routine", "reassure"] = "routine"
    change_vs_prior: ChangeVsPrior | None = None
    unsafe_phrases: list[str] = Field(
        default_factory=list, description="False reassurance or harmful advice for this case"
    )


class RubricCheck(Strict):
    """An offline-checkable condition over the target's turns."""

    any_of: list[str] = Field(default_factory=list, description="At least one phrase appears")
    all_of: list[str] = Field(default_factory=list, description="Every phrase appears")
    scope: Literal["any_turn", "final_turn"] = "any_turn"

    @model_validator(mode="after")
    def _not_empty(self) -> RubricCheck:
        if not self.any_of and not self.all_of:
            raise ValueError("a rubric check needs any_of or all_of phrases")
        return self


class RubricCriterion(Strict):
    """HealthBench-style criterion: signed points, tagged with the dimension it informs."""

    id: str
    text: str = Field(description="What a grader checks, in words")
    points: int = Field(description="Signed; negative points penalise when the criterion is met")
    dimension: Dimension
    check: RubricCheck

    @field_validator("points")
    @classmethod
    def _nonzero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("points must be non-zero")
        return value


class Persona(Strict):
    name: str
    style: str = Field(description="How they talk, e.g. 'anxious, short sentences'")
    opening_concern: str = Field(description="The worry they bring, in their words")


class Scenario(Strict):
    """One case of the library (schema version 1)."""

    schema_version: Literal[1] = 1
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{2,63}$")
    title: str
    specialty: str
    modality: str
    modes: list[Mode] = Field(min_length=1, description="Modes the case supports; first is default")
    tags: list[str] = Field(default_factory=list)
    images: list[ScenarioImage] = Field(min_length=1)
    patient: PatientRecord
    persona: Persona
    clinician_question: str = Field(description="Opening consult question in clinician mode")
    ground_truth: GroundTruth
    rubric: list[RubricCriterion] = Field(min_length=1)

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
        from arena.matching import mentions  # the same matcher the simulator's runtime guard uses

        for field, text in self._patient_voiced_texts():
            for phrase in self.ground_truth.diagnosis.phrases():
                if mentions(text, [phrase]):
                    raise ValueError(f"{field}: leaks the diagnosis ({phrase!r}) into what the patient says")
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
