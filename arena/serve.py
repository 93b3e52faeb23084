"""``arena serve``: the offline reference models behind an OpenAI-compatible HTTP API.

Why it exists: anyone with an OpenAI-compatible harness (an eval framework, an agent, a notebook
using the ``openai`` SDK) can point it at ``http://127.0.0.1:8089/v1`` and talk to models of
*known* behaviour before spending money on real ones: ``reference/pixel`` reads only the image
pixels it is sent, ``reference/blind`` never sees an image (the server withholds them, as the
arena does for any text-only model, and says so in the conversation). A harness that drops or
mangles images is caught at once: pixel's answer depends on the bytes that arrived. The arena's
own tests use it the same way: they drive the real ``openai`` SDK, and the arena's own
``openai-compatible`` adapter, over real HTTP with real scenario images.

Endpoints (under ``/v1``):

* ``GET /models`` and ``GET /models/{id}``: the served models in the OpenAI list format.
* ``POST /chat/completions``: a non-streaming chat completion. Content is a string or a list of
  ``text`` and ``image_url`` parts; images must be inline ``data:image/png;base64,...`` (or
  ``image/jpeg``) URLs: the server never fetches anything, so remote URLs are refused.
  ``temperature``, ``max_tokens``/``max_completion_tokens`` and ``seed`` are accepted and passed
  on (the reference models are deterministic and ignore them); ``response_format`` and a few
  other sampling options are accepted and ignored; ``stream: true`` is refused.

Every bad input (malformed JSON, a field of the wrong type, an unknown model, a remote or
undecodable image, a GIF labelled PNG, an image over 20 MB, a body over 50 MB) is an HTTP 400
(404 for an unknown model or path) with an OpenAI-style error body, never a 500 and never a
traceback. The server binds loopback only (127.0.0.1, localhost, ::1) unless ``allow_remote`` is
passed: it has no authentication.

``app.state.received`` records, per completion request, the sha256 of every image that arrived
(before any was withheld), so tests can prove the bytes crossed the wire; it keeps the latest
:data:`MAX_RECORDED_REQUESTS` requests.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Annotated, Any, Literal

import uvicorn
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from arena.clients.base import prepare_messages
from arena.composition import SERVED_MODELS, create_client
from arena.echo import choices, clip, exception_text, quoted
from arena.errors import ScenarioError, UsageError
from arena.faults import FaultDraw, FaultInjector, FaultPlan
from arena.limits import MAX_IMAGE_BYTES, MAX_IMAGES
from arena.protocols import ModelClient
from arena.schemas.messages import ImagePart, Message, ModelRequest, TextPart
from scenarios.library import check_image_bytes

__all__ = ["DEFAULT_PORT", "LOOPBACK_HOSTS", "MAX_BODY_BYTES", "MAX_SERVED_IMAGE_BYTES", "ServerThread",
           "build_app", "check_address", "serve", "served_model_ids"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8089
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_BODY_BYTES = 50 * 1024 * 1024  # one request body
MAX_SERVED_IMAGE_BYTES = MAX_IMAGE_BYTES  # one decoded image (20 MiB)
MAX_LATENCY_MS = 60_000
MAX_RECORDED_REQUESTS = 1_000  # app.state.received keeps the latest this many requests
STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
MEDIA_TYPES = {"image/png": "image/png", "image/jpeg": "image/jpeg", "image/jpg": "image/jpeg"}
FINISH_REASONS = ("stop", "length", "content_filter", "tool_calls")


def served_model_ids() -> list[str]:
    return [f"reference/{name}" for name in SERVED_MODELS]


# ------------------------------------------------------------------ errors


class RequestRefused(Exception):
    """A request the server will not answer: becomes an OpenAI-style error response."""

    def __init__(self, message: str, *, status: int = 400, param: str | None = None, code: str | None = None,
                 error_type: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.param = param
        self.code = code
        self.error_type = error_type


def error_response(message: str, *, status: int = 400, param: str | None = None, code: str | None = None,
                   error_type: str = "invalid_request_error") -> JSONResponse:
    body = {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    return JSONResponse(body, status_code=status)


def _refused(exc: RequestRefused) -> JSONResponse:
    return error_response(exc.message, status=exc.status, param=exc.param, code=exc.code, error_type=exc.error_type)


# ------------------------------------------------------------------ request body


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class TextContent(_Strict):
    type: Literal["text"]
    text: str


class ImageURL(_Strict):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ImageContent(_Strict):
    type: Literal["image_url"]
    image_url: ImageURL


ContentPart = Annotated[TextContent | ImageContent, Field(discriminator="type")]


class ChatMessage(_Strict):
    """One message. ``developer`` (newer OpenAI clients) is taken as ``system``; a string content
    is one text part; an assistant message may have no content."""

    role: Literal["system", "developer", "user", "assistant"]
    content: list[ContentPart] | None = None
    name: str | None = Field(default=None, max_length=256)

    @field_validator("content", mode="before")
    @classmethod
    def _string_is_one_text_part(cls, value: object) -> object:
        if isinstance(value, str):
            return [{"type": "text", "text": value}]
        return value


class ChatRequest(_Strict):
    """The body of ``POST /v1/chat/completions``: the fields a chat completion may carry. Unknown
    fields are refused (as the OpenAI API does); sampling options beyond temperature, max tokens
    and seed are accepted and ignored: the reference models are deterministic."""

    model: str = Field(min_length=1, max_length=256)
    messages: list[ChatMessage] = Field(min_length=1, max_length=1_000)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    seed: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1)
    stream: bool | None = None
    response_format: dict[str, Any] | None = None  # accepted and ignored
    n: int | None = Field(default=None, ge=1, le=1)
    top_p: float | None = Field(default=None, ge=0, le=1)
    stop: str | list[str] | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    user: str | None = None
    stream_options: dict[str, Any] | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _validation_problem(exc: ValidationError) -> RequestRefused:
    errors = exc.errors(include_url=False, include_input=False)
    if not errors:
        return RequestRefused("invalid request body")
    first = errors[0]
    if first["type"] == "json_invalid":
        return RequestRefused(f"the request body is not valid JSON: {clip(first['msg'])}")
    where = _location(tuple(first["loc"]))
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    message = f"invalid request body: {where + ': ' if where else ''}{clip(first['msg'])}{more}"
    return RequestRefused(message, param=where or None)


def decode_image(url: str, *, where: str, image_id: str) -> ImagePart:
    """An ``image_url`` made an :class:`ImagePart`: inline data URLs of PNG or JPEG only, base64,
    at most :data:`MAX_SERVED_IMAGE_BYTES`, bytes of the declared type that decode."""
    if not url[:5].lower() == "data:":
        scheme = url.split(":", 1)[0] if ":" in url[:32] else ""
        what = f"a remote {clip(scheme, 32)}: URL" if scheme else "not a data: URL"
        raise RequestRefused(f"{where}: the image URL is {what}; this server never fetches anything: send the "
                             "image inline as data:image/png;base64,... (or image/jpeg)", param=where)
    header, comma, payload = url.partition(",")
    if not comma:
        raise RequestRefused(f"{where}: malformed data URL (no comma before the data)", param=where)
    fields = [f.strip().lower() for f in header[5:].split(";")]
    media_type = MEDIA_TYPES.get(fields[0])
    if media_type is None:
        raise RequestRefused(f"{where}: media type {quoted(fields[0])} is not served; valid: "
                             f"{choices(sorted(MEDIA_TYPES))}", param=where)
    if fields[-1] != "base64":
        raise RequestRefused(f"{where}: the data URL must be base64-encoded (data:{media_type};base64,...)",
                             param=where)
    if len(payload) // 4 * 3 > MAX_SERVED_IMAGE_BYTES + 3:
        raise RequestRefused(f"{where}: the image is larger than {MAX_SERVED_IMAGE_BYTES} bytes", param=where)
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RequestRefused(f"{where}: the data URL is not valid base64 ({exception_text(exc)})",
                             param=where) from None
    if len(data) > MAX_SERVED_IMAGE_BYTES:
        raise RequestRefused(f"{where}: the image is larger than {MAX_SERVED_IMAGE_BYTES} bytes", param=where)
    if not data:
        raise RequestRefused(f"{where}: the image is empty", param=where)
    try:
        part = ImagePart(image_id=image_id, media_type=media_type, data=data)  # type: ignore[arg-type]
    except ValueError:  # pydantic's ValidationError is one
        raise RequestRefused(f"{where}: the bytes are not {media_type}", param=where) from None
    try:
        check_image_bytes(data, where=where, media_type=media_type)
    except ScenarioError as exc:
        raise RequestRefused(str(exc), param=where) from None
    return part


MAX_IMAGES_PER_REQUEST = 2 * MAX_IMAGES  # a conversation shows the case's images, and maybe once more


def to_messages(body: ChatRequest) -> list[Message]:
    """The request's messages in the arena's own form; images become ``image-1``, ``image-2``..."""
    messages: list[Message] = []
    n_images = 0
    for i, chat in enumerate(body.messages):
        role: Literal["system", "user", "assistant"] = "system" if chat.role == "developer" else chat.role
        parts: list[TextPart | ImagePart] = []
        for j, content in enumerate(chat.content or []):
            where = f"messages[{i}].content[{j}]"
            if isinstance(content, TextContent):
                parts.append(TextPart(text=content.text))
                continue
            if role != "user":
                raise RequestRefused(f"{where}: image parts are only allowed in user messages", param=where)
            n_images += 1
            if n_images > MAX_IMAGES_PER_REQUEST:
                raise RequestRefused(f"{where}: at most {MAX_IMAGES_PER_REQUEST} images per request", param=where)
            parts.append(decode_image(content.image_url.url, where=where, image_id=f"image-{n_images}"))
        if not parts:
            if chat.role != "assistant":
                raise RequestRefused(f"messages[{i}]: a {chat.role} message needs content",
                                     param=f"messages[{i}].content")
            parts.append(TextPart(text=""))
        messages.append(Message(role=role, parts=parts))
    return messages


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, refused as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise RequestRefused("invalid Content-Length header")
        if int(declared) > limit:
            raise RequestRefused(f"the request body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestRefused(f"the request body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


# ------------------------------------------------------------------ the app


def _model_entry(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "arena"}


def build_app(*, latency_ms: int = 0, faults: FaultPlan | None = None) -> Starlette:
    """The Starlette app: one client per served model, built once; ``latency_ms`` is slept before
    every completion (a slow model, for harness timeouts and concurrency); ``faults`` injects the
    plan's faults into completions (:mod:`arena.faults`; what was injected is counted in
    ``app.state.faults``)."""
    if not 0 <= latency_ms <= MAX_LATENCY_MS:
        raise UsageError(f"latency must be from 0 to {MAX_LATENCY_MS} ms, got {latency_ms}")
    clients: dict[str, ModelClient] = {model_id: create_client(model_id) for model_id in served_model_ids()}
    received: list[list[str]] = []
    draw = FaultDraw(faults) if faults is not None else None

    def unknown_model(model_id: str) -> RequestRefused:
        return RequestRefused(f"the model {quoted(model_id)} does not exist; valid: {choices(clients)}",
                              status=404, param="model", code="model_not_found")

    async def list_models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [_model_entry(model_id) for model_id in clients]})

    async def get_model(request: Request) -> Response:
        model_id = request.path_params["model_id"]
        if model_id not in clients:
            return _refused(unknown_model(model_id))
        return JSONResponse(_model_entry(model_id))

    async def chat_completions(request: Request) -> Response:
        try:
            raw = await read_body(request)
            try:
                body = ChatRequest.model_validate_json(raw)
            except ValidationError as exc:
                raise _validation_problem(exc) from None
            if body.stream:
                raise RequestRefused("streaming is not supported by this server; send stream: false",
                                     param="stream")
            client = clients.get(body.model)
            if client is None:
                raise unknown_model(body.model)
            messages = await asyncio.to_thread(to_messages, body)  # decoding images off the event loop
        except RequestRefused as exc:
            return _refused(exc)
        received.append([image.sha256 for message in messages for image in message.images])
        del received[:-MAX_RECORDED_REQUESTS]
        prepared, _withheld = prepare_messages(client, messages)
        model_request = ModelRequest(messages=prepared, temperature=body.temperature,
                                     max_tokens=body.max_completion_tokens or body.max_tokens, seed=body.seed)
        if latency_ms:
            await asyncio.sleep(latency_ms / 1000)
        try:
            response = await client.complete(model_request)
        except Exception as exc:  # a fault of the model, not of the request: named, no traceback
            return error_response(f"{body.model} failed: {type(exc).__name__}: {exception_text(exc)}",
                                  status=500, error_type="server_error")
        prompt_tokens, completion_tokens = response.usage.input_tokens, response.usage.output_tokens
        finish = response.finish_reason if response.finish_reason in FINISH_REASONS else "stop"
        return JSONResponse({
            "id": f"chatcmpl-{secrets.token_hex(12)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": response.text},
                         "finish_reason": finish, "logprobs": None}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        })

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if status == 404:
            message = f"no such endpoint: {request.method} {clip(request.url.path)}"
        elif status == 405:
            message = f"method {request.method} is not allowed on {clip(request.url.path)}"
        else:
            message = exc.detail if isinstance(exc, HTTPException) else "internal error"
        return error_response(message, status=status, code="not_found" if status == 404 else None)

    app = Starlette(
        routes=[
            Route("/v1/models", list_models, methods=["GET"]),
            Route("/v1/models/{model_id:path}", get_model, methods=["GET"]),
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        ],
        exception_handlers={HTTPException: http_error},
        middleware=[Middleware(FaultInjector, plan=faults, draw=draw)] if faults is not None and draw else [],
    )
    app.state.faults = draw
    app.state.received = received
    app.state.clients = clients
    app.state.latency_ms = latency_ms
    return app


# ------------------------------------------------------------------ serving


def check_address(host: str, port: int, *, allow_remote: bool = False) -> None:
    """Loopback only unless ``allow_remote`` (the server has no authentication); a valid port."""
    if host not in LOOPBACK_HOSTS and not allow_remote:
        raise UsageError(f"refusing to listen on {quoted(host)}: the server has no authentication; valid: "
                         f"{choices(LOOPBACK_HOSTS)} (or pass --allow-remote to expose it on purpose)")
    if not 0 <= port <= 65535:
        raise UsageError(f"port must be from 0 to 65535, got {port}")
    if not host or "\x00" in host:
        raise UsageError("the host must be a non-empty address")


def _bind(host: str, port: int, *, allow_remote: bool) -> tuple[socket.socket, str]:
    """A listening-ready socket bound to ``host:port`` and the base URL clients use."""
    check_address(host, port, allow_remote=allow_remote)
    address = "127.0.0.1" if host == "localhost" else host
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    # IPPROTO_TCP given, not 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets whose
    # protocol says TCP, and accepted connections inherit it; with Nagle on, every POST on a kept-alive
    # connection waited about 40 ms for a delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        if sys.platform != "win32":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {clip(address)}:{port}: {exception_text(exc)}") from None
    sock.set_inheritable(True)
    bound_port = sock.getsockname()[1]
    shown = f"[{address}]" if family == socket.AF_INET6 else address
    return sock, f"http://{shown}:{bound_port}/v1"


def _server(app: Starlette) -> uvicorn.Server:
    config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=5)
    return uvicorn.Server(config)


class ServerThread:
    """The server in a background thread, for tests and scripts::

        with ServerThread(latency_ms=0) as server:
            client = openai.AsyncOpenAI(base_url=server.base_url, api_key="x")

    ``port=0`` picks a free port (read ``.port``). Entering returns once the server accepts
    connections; leaving stops it and joins the thread. ``.app`` is the app served
    (``.app.state.received`` records the images of each request)."""

    def __init__(self, app: Starlette | None = None, *, host: str = DEFAULT_HOST, port: int = 0,
                 latency_ms: int = 0, allow_remote: bool = False) -> None:
        self.app = app if app is not None else build_app(latency_ms=latency_ms)
        self.host = host
        self._requested_port = port
        self._allow_remote = allow_remote
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._failure: BaseException | None = None
        self.port = 0
        self.base_url = ""

    def start(self) -> ServerThread:
        if self._thread is not None:
            raise RuntimeError("the server is already running")
        sock, self.base_url = _bind(self.host, self._requested_port, allow_remote=self._allow_remote)
        self._socket = sock
        self.port = sock.getsockname()[1]
        server = self._server = _server(self.app)

        def run() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as exc:  # noqa: BLE001 - reported by start(), never lost in the thread
                self._failure = exc

        self._thread = threading.Thread(target=run, name=f"arena-serve-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                failure = self._failure
                self.stop()
                why = f": {type(failure).__name__}: {exception_text(failure)}" if failure else ""
                raise RuntimeError(f"the server on port {self.port} did not start{why}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        server, thread, sock = self._server, self._thread, self._socket
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(STOP_TIMEOUT_S)
            if thread.is_alive() and server is not None:
                server.force_exit = True
                thread.join(STOP_TIMEOUT_S)
        if sock is not None:
            sock.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def serve(host: str, port: int, latency_ms: int, *, allow_remote: bool = False,
          announce: Callable[[str], None] | None = None, faults: FaultPlan | None = None) -> int:
    """``arena serve``: serve in the foreground until Ctrl-C (or SIGTERM); returns the exit code.
    One line with the base URL is announced (printed) once the server accepts connections. A host
    other than loopback is refused unless ``allow_remote``: there is no authentication."""
    say = announce or (lambda line: print(line, flush=True))
    check_address(host, port, allow_remote=allow_remote)
    app = build_app(latency_ms=latency_ms, faults=faults)
    sock, base_url = _bind(host, port, allow_remote=allow_remote)
    server = _server(app)

    async def main() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        if server.started:
            models = ", ".join(served_model_ids())
            slow = f", {latency_ms} ms latency" if latency_ms else ""
            if faults is not None:
                slow += ", injecting faults " + ",".join(f"{k}={v:g}" for k, v in faults.rates.items())
            say(f"arena serve: {models} at {base_url} (OpenAI-compatible{slow}); Ctrl-C to stop")
        await task

    try:
        asyncio.run(main())
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it shut down on: stopping is the normal end
        pass
    finally:
        sock.close()
    if app.state.faults is not None:
        draw = app.state.faults
        say(f"arena serve: {draw.passed} completions answered, faults injected: "
            + (", ".join(f"{k} {n}" for k, n in sorted(draw.injected.items())) or "none"))
    return 0
