"""Base classes of the records the arena writes: no NaN or infinity in any float field."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Record(BaseModel):
    """Transcripts, verdicts and messages: finite numbers only (JSON has no NaN)."""

    model_config = ConfigDict(allow_inf_nan=False)


class FrozenRecord(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, frozen=True)
