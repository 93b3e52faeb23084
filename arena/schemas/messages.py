"""Provider-neutral chat messages with text and image parts, and model responses."""

from __future__ import annotations

import base64
import hashlib
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class TextPart(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: Literal["text"] = "text"
    text: str


class ImagePart(BaseModel):
    """An image travelling to a model. ``data`` holds the encoded file bytes (PNG/JPEG)."""

    model_config = ConfigDict(frozen=True)

    type: Literal["image"] = "image"
    image_id: str = Field(description="Scenario image id, kept for transcripts")
    media_type: str = "image/png"
    data: bytes = Field(repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def base64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")

    def data_url(self) -> str:
        return f"data:{self.media_type};base64,{self.base64()}"


Part = Annotated[TextPart | ImagePart, Field(discriminator="type")]


class Message(BaseModel):
    model_config = ConfigDict(frozen=True)

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


class ModelRequest(BaseModel):
    """Everything a client needs for one completion."""

    messages: list[Message]
    temperature: float = 0.0
    max_tokens: int = 1024
    seed: int | None = None


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0


class ModelResponse(BaseModel):
    text: str
    model: str
    usage: Usage = Field(default_factory=Usage)
    latency_ms: float = 0.0
    finish_reason: str = "stop"
