"""Serve an encounter back from its recorded calls: no model is called.

Each request must be the one recorded (same messages; images compared by the sha256 of the
scenario image they came from), in order; the recorded response is returned. A request that
differs is refused with the first message that differs, so a replay is exact or it fails loudly.
"""

from __future__ import annotations

from arena.clients.base import IMAGE_NOTE
from arena.errors import ModelError
from arena.schemas.calls import ModelCall, RecordedMessage
from arena.schemas.messages import ImagePart, ModelRequest, ModelResponse, TextPart, Usage


def full_messages(calls: list[ModelCall]) -> list[list[RecordedMessage]]:
    """Each call's whole recorded conversation (the stored form omits the shared prefix)."""
    out: list[list[RecordedMessage]] = []
    previous: list[RecordedMessage] = []
    for call in calls:
        full = [*previous[:call.request.shared_prefix], *call.request.messages]
        out.append(full)
        previous = full
    return out


def _signature(messages: list[RecordedMessage]) -> list[tuple[str, tuple[str, ...]]]:
    return [(m.role, tuple(p.text if isinstance(p, TextPart) else f"image:{p.source_sha256}" for p in m.parts))
            for m in messages]


def _request_signature(request: ModelRequest, text_only: bool) -> list[tuple[str, tuple[str, ...]]]:
    sig: list[tuple[str, tuple[str, ...]]] = []
    for message in request.messages:
        parts: list[str] = []
        for part in message.parts:
            if isinstance(part, ImagePart):
                parts.append(IMAGE_NOTE if text_only else f"image:{part.sha256}")
            else:
                parts.append(part.text)
        sig.append((message.role, tuple(parts)))
    return sig


class ReplayClient:
    """Plays back the recorded calls of one role (default: the target) of one transcript."""

    def __init__(self, calls: list[ModelCall], role: str = "target") -> None:
        self.calls = [c for c in calls if c.role == role and c.response is not None]
        if not self.calls:
            raise ValueError(f"no recorded {role} calls with a response to replay")
        self.name = self.calls[0].model
        self.text_only = any(c.request.images_withheld for c in self.calls)
        self.supports_images = True  # images are compared by hash here, whatever the original saw
        self._expected = [_signature(m) for m in full_messages(self.calls)]
        self._next = 0

    async def complete(self, request: ModelRequest) -> ModelResponse:
        if self._next >= len(self.calls):
            raise ModelError(f"replay of {self.name}: more calls than were recorded ({len(self.calls)})",
                             retryable=False, error_class="client")
        expected = self._expected[self._next]
        got = _request_signature(request, self.text_only)
        if got != expected:
            where = next((i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b),
                         min(len(got), len(expected)))
            raise ModelError(f"replay of {self.name}: call {self._next + 1} differs from the recording at message "
                             f"{where}", retryable=False, error_class="client")
        call = self.calls[self._next]
        self._next += 1
        assert call.response is not None
        return ModelResponse(text=call.response.text, model=call.response.model,
                             finish_reason=call.response.finish_reason,
                             usage=Usage(input_tokens=call.usage.input_tokens, output_tokens=call.usage.output_tokens))

