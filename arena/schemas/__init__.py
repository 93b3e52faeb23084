"""Pydantic models at every boundary: scenarios, messages, transcripts, verdicts."""

from arena.schemas.messages import (
    ImagePart,
    Message,
    ModelRequest,
    ModelResponse,
    TextPart,
    Usage,
)
from arena.schemas.scenario import (
    Ambiguity,
    Dimension,
    Finding,
    Mode,
    Scenario,
    ScenarioImage,
)
from arena.schemas.transcript import (
    Assessment,
    InfraError,
    Move,
    MoveKind,
    TerminationReason,
    Transcript,
    Turn,
)
from arena.schemas.verdict import CriterionResult, DimensionScore, Verdict

__all__ = [
    "Ambiguity",
    "Assessment",
    "CriterionResult",
    "Dimension",
    "DimensionScore",
    "Finding",
    "ImagePart",
    "InfraError",
    "Message",
    "ModelRequest",
    "ModelResponse",
    "Mode",
    "Move",
    "MoveKind",
    "Scenario",
    "ScenarioImage",
    "TerminationReason",
    "TextPart",
    "Transcript",
    "Turn",
    "Usage",
    "Verdict",
]
