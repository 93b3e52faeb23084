"""Structured output: a JSON reply validated with pydantic, with a bounded number of repairs.

The schema travels with the request (``response_format`` / forced tool use / grammar); the reply
is still validated here, and an invalid one is sent back once or twice with the reason. After
that the caller gets ``None`` and the reason: never a guessed value, never an endless loop.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from arena.echo import clip
from arena.gateway import Gateway, Role
from arena.protocols import ModelClient
from arena.schemas.calls import ModelCall
from arena.schemas.messages import Message, ModelRequest

T = TypeVar("T", bound=BaseModel)
MAX_REPAIRS = 2
MAX_JSON_CHARS = 100_000
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def extract_json(text: str) -> str:
    """The JSON object in a reply: inside a ``` fence if there is one, else first ``{`` to last ``}``."""
    fenced = _FENCE.search(text)
    body = fenced.group(1) if fenced else text
    start, end = body.find("{"), body.rfind("}")
    return body[start:end + 1] if 0 <= start < end else body.strip()


def problem_of(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "reply"
        parts.append(f"{where}: {error['msg']}")
    return clip("; ".join(parts), 600)


@dataclass
class Structured(Generic[T]):
    value: T | None
    calls: list[ModelCall] = field(default_factory=list)
    problem: str = ""
    infrastructure: bool = False  # the call itself failed (no reply to repair)
    attempts: int = 0


async def complete_structured(
    gateway: Gateway,
    client: ModelClient,
    request: ModelRequest,
    model: type[T],
    *,
    role: Role,
    scope: str,
    spec: str,
    turn_index: int | None = None,
    check: Callable[[T], list[str]] | None = None,
    repairs: int = MAX_REPAIRS,
) -> Structured[T]:
    """Ask until the reply validates (``model`` and ``check``), at most ``repairs`` more times."""
    messages = list(request.messages)
    result: Structured[T] = Structured(None)
    for attempt in range(repairs + 1):
        result.attempts = attempt + 1
        outcome = await gateway.call(client, request.model_copy(update={"messages": messages}), role=role,
                                     scope=scope, spec=spec, turn_index=turn_index)
        result.calls.append(outcome.call)
        if outcome.response is None:
            result.problem = f"the call failed: {outcome.error}"
            result.infrastructure = True
            return result
        text = outcome.response.text[:MAX_JSON_CHARS]
        try:
            value = model.model_validate_json(extract_json(text))
            problems = check(value) if check else []
        except ValidationError as exc:
            problems = [problem_of(exc)]
        if not problems:
            result.value = value
            result.problem = ""
            return result
        result.problem = clip("; ".join(problems), 600)
        messages = [*messages, Message.text("assistant", clip(text, 4000)),
                    Message.text("user", f"That reply is not valid: {result.problem}. Reply again with only "
                                         "the JSON object the schema asks for.")]
    return result
