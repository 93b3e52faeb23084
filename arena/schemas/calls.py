"""The record of one model call: request (images by sha256, never bytes), every attempt, response.

A transcript keeps one :class:`ModelCall` per call any role made (target, simulator, judge), so a
replay client can serve an encounter back exactly and a reader can see what went wrong and why.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field

from arena.schemas.base import Record
from arena.schemas.messages import TextPart


class ErrorClass(StrEnum):
    """Why an attempt did not give a usable answer. Infrastructure classes are never scored."""

    RATE_LIMIT = "rate_limit"
    SERVER = "server"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    AUTH = "auth"
    BAD_REQUEST = "bad_request"
    MALFORMED = "malformed"
    CLIENT = "client"  # an exception inside a client that is none of the above
    REFUSAL = "refusal"
    EMPTY = "empty"
    CONTENT_FILTER = "content_filter"

    @property
    def is_infrastructure(self) -> bool:
        return self not in (ErrorClass.REFUSAL, ErrorClass.EMPTY, ErrorClass.CONTENT_FILTER)


class ImageRef(Record):
    """An image as recorded: which scenario image, and the bytes actually sent, by hash."""

    type: Literal["image_ref"] = "image_ref"
    image_id: str
    sha256: str = Field(description="sha256 of the bytes sent (after any downsizing)")
    source_sha256: str = Field(description="sha256 of the scenario image")
    media_type: str
    width: int
    height: int
    bytes: int
    resized: bool = False


RecordedPart = Annotated[TextPart | ImageRef, Field(discriminator="type")]


class RecordedMessage(Record):
    role: Literal["system", "user", "assistant"]
    parts: list[RecordedPart]


class RecordedRequest(Record):
    """``messages`` omits the first ``shared_prefix`` messages, which are those of the previous
    call of the same role in the same encounter (the conversation so far), so a transcript grows
    linearly with the conversation; the full request is the previous one's plus these."""

    messages: list[RecordedMessage]
    shared_prefix: int = Field(default=0, ge=0)
    params: dict[str, Any] = Field(default_factory=dict, description="temperature, max_tokens, seed...")
    response_schema: str | None = Field(default=None, description="Name of the JSON schema asked for")
    images_withheld: int = Field(default=0, description="Images replaced by a note (text-only model)")


class Attempt(Record):
    attempt: int
    outcome: Literal["ok", "error"]
    error_class: ErrorClass | None = None
    kind: Literal["infrastructure", "model"] | None = None
    exception: str | None = Field(default=None, description="Exception class name of a failed attempt")
    message: str = ""
    status: int | None = None
    retry_after_s: float | None = None
    waited_s: float = Field(default=0.0, description="Back-off slept before the next attempt")
    latency_ms: float = 0.0


class CallUsage(Record):
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = Field(default=None, description="None when the model has no known price")


class RecordedResponse(Record):
    text: str
    model: str
    finish_reason: str = "stop"
    truncated_chars: int = Field(default=0, ge=0, description="Characters cut beyond arena.limits.MAX_ANSWER_CHARS")


class ModelCall(Record):
    call_id: str = Field(description="Stable within the transcript: '<role>-<n>'")
    role: Literal["target", "simulator", "judge"]
    turn_index: int | None = None
    model: str = Field(description="Model spec as given, e.g. openai/gpt-4o")
    endpoint: str
    request: RecordedRequest
    request_key: str = Field(description="sha256 of the canonical request (cache and replay key)")
    attempts: list[Attempt] = Field(default_factory=list)
    response: RecordedResponse | None = None
    cached: bool = Field(default=False, description="Served from the response cache: no call was made")
    usage: CallUsage = Field(default_factory=CallUsage)
    error_class: ErrorClass | None = Field(default=None, description="Why the call failed or was unusable")


class UsageSummary(Record):
    calls: int = 0
    cached: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None

    @classmethod
    def of(cls, calls: list[ModelCall]) -> UsageSummary:
        costs = [c.usage.cost_usd for c in calls if c.usage.cost_usd is not None]
        return cls(
            calls=sum(1 for c in calls if not c.cached),
            cached=sum(1 for c in calls if c.cached),
            input_tokens=sum(c.usage.input_tokens for c in calls),
            output_tokens=sum(c.usage.output_tokens for c in calls),
            cost_usd=round(sum(costs), 6) if costs else None,
        )

    def __add__(self, other: UsageSummary) -> UsageSummary:
        cost = None if self.cost_usd is None and other.cost_usd is None else \
            round((self.cost_usd or 0.0) + (other.cost_usd or 0.0), 6)
        return UsageSummary(calls=self.calls + other.calls, cached=self.cached + other.cached,
                            input_tokens=self.input_tokens + other.input_tokens,
                            output_tokens=self.output_tokens + other.output_tokens, cost_usd=cost)
