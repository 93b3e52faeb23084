"""A client that plays back fixed answers: tests, recorded-response replays, fixtures."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from arena.errors import ModelError
from arena.schemas.messages import ModelRequest, ModelResponse, Usage

Answer = str | ModelError | Callable[[ModelRequest], str]


class ScriptedClient:
    """Returns ``answers`` in order (the last one repeats); a ``ModelError`` entry is raised."""

    def __init__(self, name: str, answers: Sequence[Answer], *, supports_images: bool = True) -> None:
        if not answers:
            raise ValueError("a scripted client needs at least one answer")
        self.name = name
        self.supports_images = supports_images
        self.answers = list(answers)
        self.requests: list[ModelRequest] = []

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        if isinstance(answer, ModelError):
            raise answer
        text = answer(request) if callable(answer) else answer
        return ModelResponse(text=text, model=self.name, usage=Usage(output_tokens=len(text.split())))
