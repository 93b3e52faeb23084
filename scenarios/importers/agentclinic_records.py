"""Typed shapes of AgentClinic's JSONL records, so a malformed record is refused with its field.

Only the structure the importer relies on is enforced (objects where it walks into objects, a list
of answer objects); free-text sections may be strings, numbers, lists or nested objects, as in the
published files. Unknown keys are ignored.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, field_validator

from arena.echo import clip


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)


def _scalar_text(value: Any) -> str:
    """A scalar JSON value as text; objects and lists are refused where a sentence is expected."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float | str):
        return str(value).strip()
    raise ValueError("must be text, not an object or a list")


def _string_text(value: Any) -> str:
    """A JSON string (or null): a diagnosis or an answer is never ``true`` or ``1.5e300``."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    kind = "a boolean" if isinstance(value, bool) else "a number" if isinstance(value, int | float) else "not text"
    raise ValueError(f"must be a string, not {kind}")


class SymptomsSection(_Record):
    Primary_Symptom: str = ""
    Secondary_Symptoms: list[str] = Field(default_factory=list)

    @field_validator("Primary_Symptom", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str:
        return _scalar_text(value)

    @field_validator("Secondary_Symptoms", mode="before")
    @classmethod
    def _texts(cls, value: Any) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list):
            raise ValueError("must be a list of texts")
        return [_scalar_text(item) for item in value]


class PatientActor(_Record):
    Demographics: str = ""
    History: JsonValue = None
    Symptoms: SymptomsSection = Field(default_factory=SymptomsSection)
    Past_Medical_History: JsonValue = None
    Social_History: JsonValue = None
    Review_of_Systems: JsonValue = None

    @field_validator("Demographics", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str:
        return _scalar_text(value)


class OsceExamination(_Record):
    Objective_for_Doctor: str = ""
    Patient_Actor: PatientActor = Field(default_factory=PatientActor)
    Physical_Examination_Findings: JsonValue = None
    Test_Results: JsonValue = None
    Correct_Diagnosis: str = ""

    @field_validator("Objective_for_Doctor", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str:
        return _scalar_text(value)

    @field_validator("Correct_Diagnosis", mode="before")
    @classmethod
    def _diagnosis(cls, value: Any) -> str:
        return _string_text(value)


class MedQARecord(_Record):
    """``{"OSCE_Examination": {...}}``, optionally with a local ``image_path``."""

    OSCE_Examination: OsceExamination
    image_path: str | None = None


class NejmAnswer(_Record):
    text: str
    correct: bool = False

    @field_validator("text", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str:
        return _string_text(value)


class NejmRecord(_Record):
    """``{"image_url", "question", "patient_info", "physical_exams", "answers": [{"text", "correct"}]}``."""

    image_url: str
    question: str = ""
    patient_info: str = ""
    physical_exams: JsonValue = None
    answers: list[NejmAnswer]

    @field_validator("question", "patient_info", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str:
        return _scalar_text(value)


def describe(exc: ValidationError, *, limit: int = 3) -> str:
    """The first few problems of a record as ``field: reason; field: reason`` (each part clipped)."""
    parts = []
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    for error in errors[:limit]:
        where = clip(".".join(str(p) for p in error["loc"]) or "(record)")
        parts.append(f"{where}: {clip(str(error['msg']).removeprefix('Value error, '))}")
    more = len(errors) - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
