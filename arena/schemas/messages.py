"""Provider-neutral chat messages with text and image parts, and model responses."""

from __future__ import annotations

import base64
import hashlib
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from arena.schemas.base import FrozenRecord, Record

# The leading bytes each allowed media type must start with.
IMAGE_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
}


def scrub_text(text: str) -> str:
    """Model text made storable: lone surrogates (not encodable as UTF-8) become U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


class TextPart(FrozenRecord):
    type: Literal["text"] = "text"
    text: str


class ImagePart(FrozenRecord):
    """An image travelling to a model. ``data`` holds the encoded file bytes (PNG/JPEG), and
    they must really be of ``media_type``: a GIF can never travel labelled ``image/png``."""

    type: Literal["image"] = "image"
    image_id: str = Field(description="Scenario image id, kept for transcripts")
    media_type: Literal["image/png", "image/jpeg"] = "image/png"
    data: bytes = Field(repr=False)

    @model_validator(mode="after")
    def _bytes_match_type(self) -> ImagePart:
        if not self.data.startswith(IMAGE_SIGNATURES[self.media_type]):
            raise ValueError(f"image {self.image_id!r}: bytes are not {self.media_type}")
        return self

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def base64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")

    def data_url(self) -> str:
        return f"data:{self.media_type};base64,{self.base64()}"


Part = Annotated[TextPart | ImagePart, Field(discriminator="type")]


class Message(FrozenRecord):
    role: Literal["system", "user", "assistant"]
    parts: list[Part]

    @classmethod
    def text(cls, role: Literal["system", "user", "assistant"], text: str) -> Message:
        return cls(role=role, parts=[TextPart(text=text)])

    @property
    def text_content(self) -> str:
        return "\n".join(part.text for part in self.parts if isinstance(part, TextPart))

    @property
    def images(self) -> list[ImagePart]:
        return [part for part in self.parts if isinstance(part, ImagePart)]

    def without_images(self) -> Message:
        return Message(role=self.role, parts=[p for p in self.parts if isinstance(p, TextPart)])


class ResponseSchema(FrozenRecord):
    """Structured output: the reply must be JSON valid against ``schema`` (OpenAI
    ``response_format``, Anthropic forced tool use, llama.cpp grammar)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    schema_: dict[str, Any] = Field(alias="schema")
    description: str = ""


class ModelRequest(Record):
    """Everything a client needs for one completion. ``None`` parameters take the endpoint's
    configured value, then the provider's default."""

    messages: list[Message]
    temperature: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    response_schema: ResponseSchema | None = None


class Usage(Record):
    input_tokens: int = 0
    output_tokens: int = 0


class ModelResponse(Record):
    text: str
    model: str
    usage: Usage = Field(default_factory=Usage)
    latency_ms: float = 0.0
    finish_reason: str = "stop"
    truncated_chars: int = Field(default=0, ge=0, description="Characters the gateway cut from an over-long reply")

    @field_validator("text")
    @classmethod
    def _storable(cls, value: str) -> str:
        return scrub_text(value)
