"""The one async protocol every model role (target, simulator, judge) speaks."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from arena.schemas.messages import Message, ModelRequest, ModelResponse


@runtime_checkable
class ModelClient(Protocol):
    """An async chat model. ``supports_images`` False means images are stripped before sending."""

    name: str
    supports_images: bool

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """Return the assistant's next message for ``request.messages``."""
        ...


def prepare_messages(client: ModelClient, messages: list[Message]) -> list[Message]:
    """What the client may see: image parts removed for clients without vision."""
    if client.supports_images:
        return messages
    return [message.without_images() for message in messages]


class RecordingClient:
    """Wraps a client and keeps every request it was sent (tests, audits, replays)."""

    def __init__(self, inner: ModelClient) -> None:
        self.inner = inner
        self.name = inner.name
        self.supports_images = inner.supports_images
        self.requests: list[ModelRequest] = []

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        return await self.inner.complete(request)
