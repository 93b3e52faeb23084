"""What the arena knows about a client beyond the protocol, and what a client may be sent."""

from __future__ import annotations

from dataclasses import dataclass, field

from arena.protocols import ModelClient
from arena.schemas.messages import ImagePart, Message, ModelRequest, ModelResponse, TextPart

IMAGE_NOTE = "[image not shown: text-only model]"


@dataclass(frozen=True)
class ImageLimits:
    """The largest image a provider takes: long side in pixels and encoded bytes."""

    max_side: int = 2048
    max_bytes: int = 20_000_000


@dataclass(frozen=True)
class Prices:
    """US dollars per million tokens."""

    input_per_mtok: float
    output_per_mtok: float

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok) / 1_000_000


@dataclass(frozen=True)
class ClientTraits:
    """How the arena calls a client: which endpoint (for concurrency limits and the cache key),
    image limits, retries and back-off, prices, and whether its answers may be cached."""

    endpoint: str
    image_limits: ImageLimits | None = None
    concurrency: int = 4
    retries: int = 2
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    prices: Prices | None = None
    cacheable: bool = True
    params: dict[str, float | int] = field(default_factory=dict)
    deadline_s: float | None = None  # the whole attempt, however slowly the bytes arrive
    identity: str = ""  # provider and base URL: part of the cache key


def traits_of(client: ModelClient) -> ClientTraits:
    """A client's traits, or defaults for clients that declare none (reference models, scripts):
    not cached, their own endpoint, no image limit beyond the arena's own."""
    traits = getattr(client, "traits", None)
    if isinstance(traits, ClientTraits):
        return traits
    return ClientTraits(endpoint=client.name, cacheable=False)


def prepare_messages(client: ModelClient, messages: list[Message]) -> tuple[list[Message], int]:
    """What the client may see, and how many images were withheld: for a model without vision
    each image becomes the explicit note :data:`IMAGE_NOTE`, so it knows something was there."""
    if client.supports_images:
        return messages, 0
    withheld = 0
    prepared: list[Message] = []
    for message in messages:
        if not message.images:
            prepared.append(message)
            continue
        parts: list[TextPart | ImagePart] = []
        for part in message.parts:
            if isinstance(part, TextPart):
                parts.append(part)
            else:
                withheld += 1
                parts.append(TextPart(text=IMAGE_NOTE))
        prepared.append(Message(role=message.role, parts=parts))
    return prepared, withheld


class RecordingClient:
    """Wraps a client and keeps every request it was sent (tests, audits, replays)."""

    def __init__(self, inner: ModelClient) -> None:
        self.inner = inner
        self.name = inner.name
        self.supports_images = inner.supports_images
        self.requests: list[ModelRequest] = []
        traits = getattr(inner, "traits", None)
        if traits is not None:
            self.traits = traits

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        return await self.inner.complete(request)


def effective_params(request: ModelRequest, traits: ClientTraits) -> dict[str, float | int]:
    """Generation parameters of one call: the request's where it sets them, else the endpoint's."""
    params: dict[str, float | int] = dict(traits.params)
    for name in ("temperature", "max_tokens", "seed"):
        value = getattr(request, name)
        if value is not None:
            params[name] = value
    return params
