"""Fault injection, for rehearsals and for the tests that prove nothing is lost or double-counted:
providers throttle, fail, hang, drop connections and return garbage; the arena must retry, record
an infrastructure error (never a model loss) and resume.

A :class:`FaultPlan` gives a rate per kind (``--faults 429=0.1,5xx=0.05,timeout=0.02,drop=0.02,
truncated=0.02,malformed=0.02,empty=0.02``):

* ``429``: HTTP 429 with ``Retry-After`` (``retry_after_s``);
* ``5xx``: HTTP 503;
* ``timeout``: the reply is held for ``hang_s`` seconds (longer than the client waits);
* ``drop``: the headers go out, then the connection closes mid-body;
* ``truncated``: a 200 whose JSON body is cut in half;
* ``malformed``: a 200 whose body is an HTML error page;
* ``empty``: a 200 with no body at all.

Decisions are deterministic: a request is identified by the sha256 of its body and how many times
that same body was seen, so the same run meets the same faults whatever the concurrency, and a
retry of a request draws again. ``max_consecutive`` bounds the faults in a row for one request: a
client allowed that many retries always gets through (set it high to force infrastructure errors).

Two places to inject: :class:`FaultInjector`, ASGI middleware for ``arena serve --faults``; and
:class:`FaultyClient`, a wrapper of any model client (``arena tournament --faults``) raising the
:class:`arena.errors.ModelError` each fault becomes after the SDK adapters' mapping.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from arena.config import Strict
from arena.echo import choices, quoted
from arena.errors import ModelError, UsageError
from arena.schemas.messages import ModelRequest, ModelResponse

FaultKind = Literal["429", "5xx", "timeout", "drop", "truncated", "malformed", "empty"]
KINDS: tuple[FaultKind, ...] = ("429", "5xx", "timeout", "drop", "truncated", "malformed", "empty")
COMPLETIONS = "/v1/chat/completions"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class FaultPlan(Strict):
    rates: dict[FaultKind, float] = Field(default_factory=dict)
    seed: int = Field(default=0, ge=0)
    retry_after_s: float = Field(default=0.0, ge=0, le=120)
    hang_s: float = Field(default=30.0, gt=0, le=600)
    max_consecutive: int = Field(default=2, ge=1, le=1000)

    @model_validator(mode="after")
    def _rates(self) -> FaultPlan:
        for kind, rate in self.rates.items():
            if not 0 <= rate <= 1:
                raise ValueError(f"the rate of {kind} must be from 0 to 1, got {rate}")
        if sum(self.rates.values()) > 1 + 1e-9:
            raise ValueError(f"the fault rates add up to {sum(self.rates.values()):.3f}, more than 1")
        return self

    @classmethod
    def parse(cls, spec: str, **options: Any) -> FaultPlan:
        """``429=0.1,5xx=0.05,...`` (kinds: 429, 5xx, timeout, drop, truncated, malformed, empty)."""
        rates: dict[str, float] = {}
        for term in (t.strip() for t in spec.split(",")):
            if not term:
                continue
            kind, sep, value = term.partition("=")
            if kind not in KINDS or not sep:
                raise UsageError(f"--faults: {quoted(term)} is not KIND=RATE; valid kinds: {choices(KINDS)}")
            try:
                rates[kind] = float(value)
            except ValueError:
                raise UsageError(f"--faults: the rate of {kind} must be a number from 0 to 1, got "
                                 f"{quoted(value)}") from None
        try:
            return cls.model_validate({"rates": rates, **options})
        except ValidationError as exc:
            raise UsageError(f"--faults: {str(exc.errors()[0]['msg']).removeprefix('Value error, ')}") from None


class FaultDraw:
    """Which fault (or none) each request meets; counts what was injected in ``injected``."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._seen: Counter[str] = Counter()
        self._streak: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.passed = 0

    def next(self, body: bytes) -> FaultKind | None:
        key = hashlib.sha256(body).hexdigest()
        n = self._seen[key]
        self._seen[key] += 1
        fault: FaultKind | None = None
        if self._streak[key] < self.plan.max_consecutive:
            x = random.Random(f"{self.plan.seed}|{key}|{n}").random()
            edge = 0.0
            for kind in KINDS:
                edge += self.plan.rates.get(kind, 0.0)
                if x < edge:
                    fault = kind
                    break
        if fault is None:
            self._streak[key] = 0
            self.passed += 1
        else:
            self._streak[key] += 1
            self.injected[fault] += 1
        return fault


# ------------------------------------------------------------------ the server side


def _error_body(message: str, kind: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": kind, "param": None, "code": None}}).encode()


class FaultInjector:
    """ASGI middleware: ``POST /v1/chat/completions`` meets the plan's faults; everything else,
    and a request that draws no fault, reaches the app unchanged."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], plan: FaultPlan,
                 draw: FaultDraw | None = None) -> None:
        self.app = app
        self.draw = draw or FaultDraw(plan)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != COMPLETIONS:
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        fault = self.draw.next(body)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        if fault is None:
            await self.app(scope, replay, send)
        elif fault == "timeout":
            await asyncio.sleep(self.draw.plan.hang_s)
            await self.app(scope, replay, send)
        else:
            await self._inject(fault, scope, replay, send)

    async def _inject(self, fault: FaultKind, scope: Scope, receive: Receive, send: Send) -> None:
        if fault == "429":
            retry = self.draw.plan.retry_after_s
            await _respond(send, 429, _error_body("rate limited (injected)", "rate_limit_error"),
                           [(b"retry-after", f"{retry:g}".encode())])
        elif fault == "5xx":
            await _respond(send, 503, _error_body("service unavailable (injected)", "server_error"))
        elif fault == "malformed":
            await _respond(send, 200, b"<html><body><h1>502 Bad Gateway</h1></body></html>", content_type=b"text/html")
        elif fault == "empty":
            await _respond(send, 200, b"")
        else:  # drop, truncated: a real answer, cut
            captured: list[Message] = []

            async def keep(message: Message) -> None:
                captured.append(message)

            await self.app(scope, receive, keep)
            full = b"".join(m.get("body", b"") for m in captured if m["type"] == "http.response.body")
            if fault == "truncated":
                await _respond(send, 200, full[: len(full) // 2])
            else:  # the promised length is never delivered: the server closes the connection mid-body
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(full)).encode())]})
                await send({"type": "http.response.body", "body": full[: len(full) // 3], "more_body": False})


async def _respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None,
                   content_type: bytes = b"application/json") -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


# ------------------------------------------------------------------ the client side


class FaultyClient:
    """A model client meeting the plan's faults before its real call; every other attribute
    (name, traits, supports_images) is the wrapped client's."""

    def __init__(self, inner: Any, plan: FaultPlan, draw: FaultDraw | None = None) -> None:
        self._inner = inner
        self.draw = draw or FaultDraw(plan)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def complete(self, request: ModelRequest) -> ModelResponse:
        fault = self.draw.next(f"{self._inner.name}|{request.model_dump_json()}".encode())
        spec = self._inner.name
        if fault == "429":
            raise ModelError(f"{spec}: HTTP 429 (injected)", error_class="rate_limit", status=429,
                             retry_after_s=self.draw.plan.retry_after_s)
        if fault == "5xx":
            raise ModelError(f"{spec}: HTTP 503 (injected)", error_class="server", status=503)
        if fault == "timeout":
            raise ModelError(f"{spec}: timed out (injected)", error_class="timeout")
        if fault == "drop":
            raise ModelError(f"{spec}: connection failed (injected: dropped mid-response)", error_class="connection")
        if fault in ("truncated", "malformed", "empty"):
            raise ModelError(f"{spec}: malformed response (injected: {fault})", error_class="malformed")
        response: ModelResponse = await self._inner.complete(request)
        return response


class FaultyBound:
    """A reference model bound per encounter (it reads the case), wrapped once bound."""

    def __init__(self, inner: Any, draw: FaultDraw) -> None:
        self._inner = inner
        self.draw = draw

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def for_encounter(self, scenario: Any, seed: int) -> FaultyClient:
        return FaultyClient(self._inner.for_encounter(scenario, seed), self.draw.plan, self.draw)


def with_faults(client: Any, draw: FaultDraw) -> Any:
    """``client`` meeting ``draw``'s faults (a client bound per encounter is wrapped once bound)."""
    if hasattr(client, "for_encounter") and not hasattr(client, "complete"):
        return FaultyBound(client, draw)
    return FaultyClient(client, draw.plan, draw)
