"""What every HTTP provider shares: traits from the endpoint config, keys, timeouts, prices, and
the mapping of SDK exceptions to :class:`ModelError` (infrastructure classes; retryable or not)."""

from __future__ import annotations

import email.utils
import json
import math
import re
import ssl
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import httpx2

from arena.clients.base import ClientTraits, ImageLimits, Prices
from arena.config import EndpointConfig
from arena.errors import ModelError, UsageError
from arena.schemas.calls import ErrorClass
from arena.schemas.messages import ModelRequest, ModelResponse
from arena.secrets import read_key, redact

PRICES_FILE = Path(__file__).with_name("prices.json")
MAX_MESSAGE_CHARS = 500


@cache
def builtin_prices() -> dict[str, Prices]:
    data: dict[str, Any] = json.loads(PRICES_FILE.read_text(encoding="utf-8"))
    return {spec: Prices(**entry) for spec, entry in data.items() if not spec.startswith("_")}


def prices_for(endpoint: EndpointConfig, model: str) -> Prices | None:
    entry = endpoint.prices.get(model)
    if entry is not None:
        return Prices(entry.input_per_mtok, entry.output_per_mtok)
    return builtin_prices().get(f"{endpoint.name}/{model}") or builtin_prices().get(f"{endpoint.provider}/{model}")


def traits_for(endpoint: EndpointConfig, model: str, default_limits: ImageLimits,
               base_url: str | None = None) -> ClientTraits:
    """The gateway's view of one endpoint's client. ``identity`` (provider and base URL) keys the
    response cache, so two servers behind one endpoint name never share answers."""
    limits = ImageLimits(max_side=endpoint.max_image_side or default_limits.max_side,
                         max_bytes=endpoint.max_image_bytes or default_limits.max_bytes)
    params = {k: v for k, v in endpoint.params.model_dump().items() if v is not None}
    return ClientTraits(
        endpoint=endpoint.name, image_limits=limits if endpoint.vision is not False else None,
        concurrency=endpoint.concurrency, retries=endpoint.max_retries, backoff_s=endpoint.backoff_s,
        prices=prices_for(endpoint, model), cacheable=endpoint.cache, params=params,
        deadline_s=endpoint.timeout_s, identity=f"{endpoint.provider}|{base_url or 'default'}",
    )


@cache
def shared_tls() -> ssl.SSLContext:
    """One verifying TLS context per process, built as httpx2 builds its default (honouring
    SSL_CERT_FILE and SSL_CERT_DIR): building one costs about 30 ms, and each SDK client would
    otherwise build its own, so a models file with 20 specs paid 0.6 s before the first call."""
    return httpx2.create_ssl_context()


def timeout_for(endpoint: EndpointConfig) -> httpx2.Timeout:
    return httpx2.Timeout(endpoint.timeout_s, connect=endpoint.connect_timeout_s)


MAX_URL_CHARS = 2000


def check_base_url(url: str, spec: str, source: str) -> str:
    """A usable http(s) base URL, or a one-line ``UsageError`` naming where it came from."""
    shown = safe_url(url)
    problem = None
    if len(url) > MAX_URL_CHARS:
        problem = f"longer than {MAX_URL_CHARS} characters"
    elif any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        problem = "contains spaces or control characters"
    else:
        try:
            parsed = httpx2.URL(url)
            port = parsed.port
        except (httpx2.InvalidURL, ValueError, TypeError) as exc:
            problem = f"not a valid URL ({str(exc)[:80]})"
        else:
            if parsed.scheme not in ("http", "https"):
                problem = "must start with http:// or https://"
            elif not parsed.host:
                problem = "has no host"
            elif port is not None and not 0 < port < 65536:
                problem = "has a port outside 1..65535"
    if problem:
        raise UsageError(f"base URL {shown!r} for {spec} (from {source}) {problem}")
    return url


def safe_url(url: str) -> str:
    """``url`` fit to show: user, password and query values replaced (keys sometimes live there)."""
    text = redact(url)
    text = re.sub(r"(?<=://)[^/@?#]*@", "***@", text)
    text = re.sub(r"(?<=[?&])([^=&#]+)=[^&#]*", r"\1=***", text)
    return text[:200]


def shown_variable(variable: str) -> str:
    """A variable's name as an error may print it: names in the usual form (``OPENAI_API_KEY``) as
    they are; anything else (a key pasted where its variable's name belongs) is not echoed."""
    if re.fullmatch(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*", variable) and len(variable) <= 64:
        return variable
    return "named by api_key_env in the models file (not shown: it does not look like a variable name)"


def require_key(variable: str, spec: str) -> str:
    key = read_key(variable)
    if key is None:
        raise UsageError(f"{spec} needs an API key: set the environment variable {shown_variable(variable)} "
                         "(or name another with api_key_env in the models file)")
    return key


def parse_retry_after(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms``, ``retry-after`` (seconds or an HTTP date), if any. A
    value that is not a finite number or a date is ignored (the gateway's own back-off applies)."""
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / scale
        except ValueError:
            if scale != 1.0:
                continue
            try:
                parsed = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError, OverflowError):
                return None
            seconds = parsed.timestamp() - time.time() if parsed.tzinfo else 0.0
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    return None


def status_class(status: int) -> tuple[ErrorClass, bool]:
    if status == 429:
        return ErrorClass.RATE_LIMIT, True
    if status in (401, 403):
        return ErrorClass.AUTH, False
    if status in (408, 409) or status >= 500:
        return ErrorClass.SERVER, True
    return ErrorClass.BAD_REQUEST, False


def _text(exc: Exception) -> str:
    try:
        return str(getattr(exc, "message", "") or exc)
    except Exception:  # an exception whose __str__ fails still gets a message
        return type(exc).__name__


def sdk_error(exc: Exception, sdk: Any, spec: str) -> ModelError:
    """The :class:`ModelError` for an exception raised by the ``openai`` or ``anthropic`` SDK."""
    detail = redact(_text(exc))[:MAX_MESSAGE_CHARS]
    if isinstance(exc, sdk.APITimeoutError):
        return ModelError(f"{spec}: timed out", error_class=ErrorClass.TIMEOUT.value)
    if isinstance(exc, sdk.APIConnectionError):
        return ModelError(f"{spec}: connection failed ({detail})", error_class=ErrorClass.CONNECTION.value)
    if isinstance(exc, sdk.APIStatusError):
        status = exc.status_code
        error_class, retryable = status_class(status)
        hint = {ErrorClass.AUTH: " (check the API key)", ErrorClass.BAD_REQUEST: " (the request was refused)"}
        return ModelError(f"{spec}: HTTP {status}{hint.get(error_class, '')}: {detail}", retryable=retryable,
                          error_class=error_class.value, status=status,
                          retry_after_s=parse_retry_after(exc.response.headers))
    if isinstance(exc, sdk.APIResponseValidationError | ValueError | KeyError | TypeError | AttributeError):
        return ModelError(f"{spec}: malformed response ({type(exc).__name__}: {detail})",
                          error_class=ErrorClass.MALFORMED.value)
    return ModelError(f"{spec}: {type(exc).__name__}: {detail}", retryable=False, error_class=ErrorClass.CLIENT.value)


class SdkClient:
    """What the SDK adapters share: name, model, endpoint and traits, the timing of a call, and
    every SDK (or malformed-response) exception turned into a :class:`ModelError`. Subclasses
    implement ``_complete`` with their SDK call; ``errors`` is the SDK module (``openai``,
    ``anthropic``), whose ``error_base`` class every SDK exception derives from."""

    def __init__(self, spec: str, model: str, endpoint: EndpointConfig, traits: ClientTraits, errors: Any,
                 error_base: type[Exception]) -> None:
        self.name = spec
        self.model = model
        self.endpoint = endpoint
        self.supports_images = endpoint.vision is not False
        self.traits = traits
        self._errors = errors
        self._error_base = error_base

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    _sdk: Any = None
    _fresh: Callable[[], Any] | None = None  # builds a new SDK client; None: the HTTP client was injected
    _closed: bool = False

    @property
    def sdk(self) -> Any:
        """The SDK client; after :meth:`aclose`, a new one (new connections) built on first use."""
        if self._closed and self._fresh is not None:
            self._sdk, self._closed = self._fresh(), False
        return self._sdk

    async def aclose(self) -> None:
        """Close the connections the SDK client opened, in the event loop that opened them: the HTTP
        client the arena builds has no finaliser, and the SDK's own tried later in whatever loop ran
        then, and failed noisily. The next call builds a new client. An injected HTTP client (tests)
        belongs to whoever injected it and stays open."""
        if self._fresh is None or self._closed:
            return
        self._closed = True
        await self._sdk.close()

    async def _complete(self, request: ModelRequest) -> ModelResponse:
        raise NotImplementedError

    async def complete(self, request: ModelRequest) -> ModelResponse:
        start = time.perf_counter()
        try:
            response = await self._complete(request)
        except (self._error_base, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise sdk_error(exc, self._errors, self.name) from None
        except RuntimeError as exc:  # httpx2: "the client has been closed" (a call that began before aclose)
            if "closed" not in str(exc):
                raise
            raise ModelError(f"{self.name}: connection closed by the arena ({str(exc)[:100]})", retryable=True,
                             error_class=ErrorClass.CONNECTION.value) from None
        return response.model_copy(update={"latency_ms": (time.perf_counter() - start) * 1000})
