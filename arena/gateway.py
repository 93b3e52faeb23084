"""Every model call of every role goes through the :class:`Gateway`.

It prepares the request for the client (images replaced by a note for text-only models, fitted to
the provider's limits otherwise), serves it from the response cache when one is open, limits
concurrency per endpoint, retries infrastructure failures with exponential back-off and jitter
(honouring Retry-After), fails fast on authentication and bad requests, and returns a
:class:`ModelCall` record of the request (images by sha256), every attempt and the response.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from arena.cache import ResponseCache
from arena.clients.base import ClientTraits, effective_params, prepare_messages, traits_of
from arena.clients.images import fit_image
from arena.clients.replay import full_messages
from arena.encounter.clock import Clock, SystemClock
from arena.errors import ModelError
from arena.limits import MAX_ANSWER_CHARS
from arena.protocols import ModelClient
from arena.schemas.calls import (
    Attempt,
    CallUsage,
    ErrorClass,
    ImageRef,
    ModelCall,
    RecordedMessage,
    RecordedRequest,
    RecordedResponse,
)
from arena.schemas.messages import ImagePart, Message, ModelRequest, ModelResponse, TextPart, scrub_text
from arena.secrets import redact

Role = Literal["target", "simulator", "judge"]
MAX_ERROR_CHARS = 2000
MAX_RETRY_AFTER_S = 120.0  # a Retry-After beyond this is capped: a run never sleeps for hours


@dataclass
class CallResult:
    response: ModelResponse | None
    call: ModelCall
    error: ModelError | None = None

    @property
    def ok(self) -> bool:
        return self.response is not None


def _text(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # an exception whose __str__ fails still gets recorded
        return type(exc).__name__


def _clean(response: ModelResponse) -> ModelResponse:
    """What is kept of a reply: key values scrubbed (an endpoint may echo one, in the text or the
    model name) and the text cut at ``MAX_ANSWER_CHARS`` (the cut is recorded)."""
    text, model = redact(response.text), redact(response.model)[:200]
    cut = max(len(text) - MAX_ANSWER_CHARS, 0)
    if cut:
        text = text[:MAX_ANSWER_CHARS]
    if (text, model) == (response.text, response.model) and not cut:
        return response
    return response.model_copy(update={"text": text, "model": model, "truncated_chars": response.truncated_chars + cut})


def classify(exc: BaseException) -> tuple[ErrorClass, bool, float | None, int | None]:
    """(error class, retryable, retry-after seconds, HTTP status) of a failed attempt."""
    if isinstance(exc, ModelError):
        try:
            error_class = ErrorClass(exc.error_class)
        except ValueError:
            error_class = ErrorClass.SERVER if exc.retryable else ErrorClass.CLIENT
        return error_class, exc.retryable, exc.retry_after_s, exc.status
    if isinstance(exc, TimeoutError):
        return ErrorClass.TIMEOUT, True, None, None
    if isinstance(exc, OSError):  # ConnectionError and the rest of the network
        return ErrorClass.CONNECTION, True, None, None
    return ErrorClass.CLIENT, False, None, None


def backoff(traits: ClientTraits, attempt: int, retry_after: float | None, rng: random.Random) -> float:
    """Seconds to wait before attempt ``attempt + 1``: Retry-After when given (capped), else
    exponential with jitter (half fixed, half random), capped at ``max_backoff_s``."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), MAX_RETRY_AFTER_S)
    ceiling = min(traits.max_backoff_s, traits.backoff_s * 2 ** (attempt - 1))
    return ceiling / 2 + rng.random() * ceiling / 2


def prepare(client: ModelClient, request: ModelRequest) -> tuple[ModelRequest, RecordedRequest]:
    """The request as sent (images noted away or fitted) and its record."""
    traits = traits_of(client)
    messages, withheld = prepare_messages(client, request.messages)
    sent_messages: list[Message] = []
    recorded: list[RecordedMessage] = []
    for message in messages:
        sent_parts: list[TextPart | ImagePart] = []
        recorded_parts: list[TextPart | ImageRef] = []
        for part in message.parts:
            if isinstance(part, ImagePart):
                fitted, ref = fit_image(part, traits.image_limits)
                sent_parts.append(fitted)
                recorded_parts.append(ref)
            else:
                sent_parts.append(part)
                recorded_parts.append(part)
        # parts and role come from validated models: constructed, not validated again (the whole
        # conversation passes here on every call, so validating grew with the square of its length)
        sent_messages.append(Message.model_construct(role=message.role, parts=sent_parts))
        recorded.append(RecordedMessage.model_construct(role=message.role, parts=recorded_parts))
    sent = request.model_copy(update={"messages": sent_messages})
    schema = request.response_schema
    record = RecordedRequest(messages=recorded, params=effective_params(request, traits),
                             response_schema=schema.name if schema else None, images_withheld=withheld)
    return sent, record


def request_key(client: ModelClient, request: ModelRequest, record: RecordedRequest) -> str:
    """The cache and replay key: endpoint, model, parameters, content (images by hash), schema."""
    schema = request.response_schema
    traits = traits_of(client)
    canonical = {
        "endpoint": traits.endpoint,
        "identity": traits.identity,
        "model": client.name,
        "params": record.params,
        "messages": record.model_dump(mode="json")["messages"],
        "schema": schema.model_dump(mode="json", by_alias=True) if schema else None,
    }
    blob = json.dumps(canonical, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def model_outcome(response: ModelResponse) -> ErrorClass | None:
    """A usable reply that is still a model failure: refused, filtered or empty (scored as given)."""
    if response.finish_reason == "content_filter":
        return ErrorClass.CONTENT_FILTER
    if response.finish_reason == "refusal":
        return ErrorClass.REFUSAL
    if not response.text.strip():
        return ErrorClass.EMPTY
    return None


@dataclass
class Gateway:
    """Run-scoped: one per invocation, shared by every encounter and role of that run."""

    cache: ResponseCache | None = None
    clock: Clock = field(default_factory=SystemClock)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    seed: int = 0
    network_calls: int = 0  # attempts that reached a client (cache hits excluded)
    _limits: dict[str, asyncio.Semaphore] = field(default_factory=dict)
    _counters: dict[str, int] = field(default_factory=dict)
    _previous: dict[str, list[RecordedMessage]] = field(default_factory=dict)

    def _semaphore(self, traits: ClientTraits) -> asyncio.Semaphore:
        if traits.endpoint not in self._limits:
            self._limits[traits.endpoint] = asyncio.Semaphore(max(1, traits.concurrency))
        return self._limits[traits.endpoint]

    def next_call_id(self, role: Role, scope: str) -> str:
        key = f"{scope}|{role}"
        self._counters[key] = self._counters.get(key, 0) + 1
        return f"{role}-{self._counters[key]}"

    async def call(self, client: ModelClient, request: ModelRequest, *, role: Role,
                   turn_index: int | None = None, scope: str = "", spec: str | None = None,
                   retries: int | None = None, clock: Clock | None = None) -> CallResult:
        """One model call with its retries; never raises for a client failure. ``clock`` times the
        attempts (the encounter's, so a frozen clock gives byte-identical transcripts)."""
        clock = clock or self.clock
        traits = traits_of(client)
        sent, record = prepare(client, request)
        key = request_key(client, sent, record)
        record = self._share_prefix(record, f"{scope}|{role}")
        call = ModelCall(call_id=self.next_call_id(role, scope), role=role, turn_index=turn_index,
                         model=spec or client.name, endpoint=traits.endpoint, request=record, request_key=key)
        if self.cache is not None and traits.cacheable and (hit := self.cache.get(key)) is not None:
            return CallResult(hit, self._finish(call, hit, traits, cached=True))
        rng = random.Random(f"{self.seed}|{key}")
        budget = traits.retries if retries is None else retries
        async with self._semaphore(traits):
            attempt = 0
            while True:
                attempt += 1
                tick = clock.monotonic()
                try:
                    self.network_calls += 1
                    async with asyncio.timeout(traits.deadline_s):
                        response = await client.complete(sent)
                    if not isinstance(response, ModelResponse):
                        raise TypeError(f"client returned {type(response).__name__}, not a ModelResponse")
                except Exception as exc:  # every client failure is recorded, never raised
                    error_class, retryable, retry_after, status = classify(exc)
                    message = redact(scrub_text(_text(exc)))[:MAX_ERROR_CHARS] or type(exc).__name__
                    latency = (clock.monotonic() - tick) * 1000
                    last = not retryable or attempt > budget
                    wait = 0.0 if last else backoff(traits, attempt, retry_after, rng)
                    call.attempts.append(Attempt(attempt=attempt, outcome="error", error_class=error_class,
                                                 kind="infrastructure", exception=type(exc).__name__,
                                                 message=message, status=status,
                                                 retry_after_s=retry_after, waited_s=round(wait, 3),
                                                 latency_ms=latency))
                    if last:
                        call.error_class = error_class
                        error = ModelError(message, retryable=retryable, error_class=error_class.value, status=status)
                        return CallResult(None, call, error)
                    await self.sleep(wait)
                    continue
                latency = (clock.monotonic() - tick) * 1000
                response = _clean(response)
                call.attempts.append(Attempt(attempt=attempt, outcome="ok", latency_ms=latency))
                finished = self._finish(call, response, traits, cached=False)
                if self.cache is not None and traits.cacheable and finished.error_class is None:
                    self.cache.put(key, response)
                return CallResult(response, finished)

    def continue_scope(self, scope: str, calls: list[ModelCall]) -> None:
        """Make ``scope`` carry on after ``calls`` (a fork resuming from a checkpoint): call numbers
        continue and the next request of each role shares its prefix with the last recorded one."""
        for role in dict.fromkeys(c.role for c in calls):
            own = [c for c in calls if c.role == role]
            self._counters[f"{scope}|{role}"] = len(own)
            self._previous[f"{scope}|{role}"] = full_messages(own)[-1]

    def forget(self, scope: str) -> None:
        """Drop what is kept of an encounter's calls once it is over."""
        for key in [k for k in self._previous if k.startswith(f"{scope}|")]:
            del self._previous[key]

    def _share_prefix(self, record: RecordedRequest, scope: str) -> RecordedRequest:
        previous = self._previous.get(scope, [])
        full = record.messages
        self._previous[scope] = full
        shared = 0
        for before, now in zip(previous, full, strict=False):
            if before != now:
                break
            shared += 1
        if shared == 0:
            return record
        return record.model_copy(update={"messages": full[shared:], "shared_prefix": shared})

    @staticmethod
    def _finish(call: ModelCall, response: ModelResponse, traits: ClientTraits, *, cached: bool) -> ModelCall:
        outcome = model_outcome(response)
        if outcome is not None and call.attempts:
            call.attempts[-1].error_class = outcome
            call.attempts[-1].kind = "model"
        usage = response.usage
        cost = traits.prices.cost(usage.input_tokens, usage.output_tokens) if traits.prices and not cached else None
        call.response = RecordedResponse(text=response.text, model=response.model,
                                         finish_reason=response.finish_reason[:40],
                                         truncated_chars=response.truncated_chars)
        call.usage = CallUsage(input_tokens=0 if cached else usage.input_tokens,
                               output_tokens=0 if cached else usage.output_tokens,
                               cost_usd=None if cost is None else round(cost, 8))
        call.cached = cached
        call.error_class = outcome
        return call
