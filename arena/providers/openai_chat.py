"""OpenAI chat completions, for OpenAI itself (``openai/<model>``) and any OpenAI-compatible server
(``openai-compatible/<model>`` or a named endpoint: vLLM, Ollama, llama.cpp, Gemini's OpenAI
endpoint, gateways), through the official ``openai`` SDK.

Images travel as ``image_url`` content parts holding ``data:`` URLs. A JSON schema travels as
``response_format`` (``json_schema``, or ``json_object`` with the schema for llama.cpp). The SDK's
own retries are off: the arena's gateway retries and records every attempt. The SDK is imported
when the first client is built (importing it costs about 2 s), so commands that call no model
start fast.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from arena.clients.base import ClientTraits, ImageLimits, effective_params
from arena.config import BASE_URL_VARIABLE, EndpointConfig
from arena.echo import quoted
from arena.errors import UsageError
from arena.providers.common import (
    SdkClient,
    check_base_url,
    require_key,
    safe_url,
    shared_tls,
    timeout_for,
    traits_for,
)
from arena.schemas.messages import ImagePart, Message, ModelRequest, ModelResponse, Usage
from arena.secrets import read_key

if TYPE_CHECKING:
    import openai

OPENAI_LIMITS = ImageLimits(max_side=2048, max_bytes=20_000_000)
COMPATIBLE_KEY_VARIABLE = "OPENAI_COMPATIBLE_API_KEY"
NO_KEY = "not-needed"  # the SDK wants some key; local servers ignore it
SEND_OPTIONS: dict[str, Any] = {"security": {"bearer_auth": True}}  # what chat.completions.create asks of a POST


def encode_message(message: Message) -> dict[str, Any]:
    """One message in the chat-completions format; plain string content when there is no image."""
    if not message.images:
        return {"role": message.role, "content": message.text_content}
    content: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, ImagePart):
            content.append({"type": "image_url", "image_url": {"url": part.data_url()}})
        else:
            content.append({"type": "text", "text": part.text})
    return {"role": message.role, "content": content}


class OpenAIChatClient(SdkClient):
    """One model on one OpenAI-style endpoint."""

    def __init__(self, spec: str, model: str, endpoint: EndpointConfig, sdk_client: openai.AsyncOpenAI,
                 traits: ClientTraits, *, token_parameter: str) -> None:
        import openai

        super().__init__(spec, model, endpoint, traits, openai, openai.OpenAIError)
        self._sdk = sdk_client
        self._completion = openai.types.chat.ChatCompletion
        self._token_parameter = token_parameter

    def __repr__(self) -> str:
        return f"OpenAIChatClient({self.name!r}, base_url={safe_url(str(self.sdk.base_url))!r})"

    def request_body(self, request: ModelRequest) -> dict[str, Any]:
        params = effective_params(request, self.traits)
        body: dict[str, Any] = {"model": self.model, "messages": [encode_message(m) for m in request.messages]}
        if "temperature" in params:
            body["temperature"] = params["temperature"]
        if "top_p" in params:
            body["top_p"] = params["top_p"]
        if "max_tokens" in params:
            body[self._token_parameter] = params["max_tokens"]
        if "seed" in params:
            body["seed"] = params["seed"]
        schema = request.response_schema
        if schema is not None:
            if self.endpoint.structured_output == "json_object":
                body["response_format"] = {"type": "json_object", "schema": schema.schema_}
            else:
                body["response_format"] = {"type": "json_schema", "json_schema": {
                    "name": schema.name, "schema": schema.schema_, "strict": False}}
        return body

    async def _complete(self, request: ModelRequest) -> ModelResponse:
        # the SDK's own POST with the body already in wire form: ``chat.completions.create`` would walk
        # every message through its typed-dict transform first, a third of the arena's CPU per call at
        # high concurrency (benchmarks/concurrency.py); auth, headers, timeouts, errors and the typed
        # response are the SDK's as before
        completion = await self.sdk.post("/chat/completions", body=self.request_body(request),
                                          cast_to=self._completion, options=SEND_OPTIONS)
        if not completion.choices:
            raise ValueError("the response has no choices")
        choice = completion.choices[0]
        message = choice.message
        refusal = getattr(message, "refusal", None)
        text = refusal if refusal else (message.content or "")
        finish = "refusal" if refusal else (choice.finish_reason or "stop")
        usage = completion.usage
        return ModelResponse(
            text=text, model=completion.model or self.model, finish_reason=str(finish),
            usage=Usage(input_tokens=usage.prompt_tokens if usage else 0,
                        output_tokens=usage.completion_tokens if usage else 0),
        )


class OpenAIProvider:
    """``openai/<model>``: the OpenAI API. Key from ``OPENAI_API_KEY`` (or ``api_key_env``)."""

    name = "openai"
    summary = "OpenAI chat completions (key: OPENAI_API_KEY)"
    key_variable = "OPENAI_API_KEY"
    token_parameter = "max_completion_tokens"

    def key(self, endpoint: EndpointConfig, spec: str) -> str:
        return require_key(endpoint.api_key_env or self.key_variable, spec)

    def base_url(self, endpoint: EndpointConfig, spec: str) -> str | None:
        """The endpoint's URL, else ``OPENAI_BASE_URL`` (the SDK's variable), else the SDK default."""
        if endpoint.base_url:
            return check_base_url(endpoint.base_url, spec, "the models file")
        env = os.environ.get("OPENAI_BASE_URL")
        return check_base_url(env, spec, "OPENAI_BASE_URL") if env else None

    def check(self, model: str, endpoint: EndpointConfig) -> None:
        spec = f"{endpoint.name}/{model}"
        self.key(endpoint, spec)
        self.base_url(endpoint, spec)

    def create(self, model: str, endpoint: EndpointConfig, *, http_client: Any = None) -> OpenAIChatClient:
        import openai

        spec = f"{endpoint.name}/{model}"
        key, base_url = self.key(endpoint, spec), self.base_url(endpoint, spec)

        def fresh() -> openai.AsyncOpenAI:  # the SDK's default HTTP client, with the process's one TLS context
            transport = http_client or openai.DefaultAsyncHttpx2Client(verify=shared_tls())
            return openai.AsyncOpenAI(api_key=key, base_url=base_url, max_retries=0, timeout=timeout_for(endpoint),
                                      http_client=transport)

        sdk_client = fresh()
        traits = traits_for(endpoint, model, OPENAI_LIMITS, base_url=str(sdk_client.base_url))
        client = OpenAIChatClient(spec, model, endpoint, sdk_client, traits, token_parameter=self.token_parameter)
        client._fresh = fresh if http_client is None else None
        return client

    def known_models(self) -> list[str]:
        return ["openai/gpt-4o", "openai/gpt-4.1", "openai/gpt-5 (any model id the API serves)"]


class OpenAICompatibleProvider(OpenAIProvider):
    """``openai-compatible/<model>`` or a named endpoint: any server speaking the OpenAI API.
    Base URL from the endpoint, ``--base-url`` or ``OPENAI_COMPATIBLE_BASE_URL``; a key is
    optional (``OPENAI_COMPATIBLE_API_KEY`` or ``api_key_env``)."""

    name = "openai-compatible"
    summary = f"any OpenAI-compatible server: vLLM, Ollama, llama.cpp, Gemini (base URL: {BASE_URL_VARIABLE})"
    key_variable = COMPATIBLE_KEY_VARIABLE
    token_parameter = "max_tokens"

    def key(self, endpoint: EndpointConfig, spec: str) -> str:
        if endpoint.api_key_env:
            return require_key(endpoint.api_key_env, spec)
        return read_key(self.key_variable) or NO_KEY

    def base_url(self, endpoint: EndpointConfig, spec: str) -> str | None:
        if endpoint.base_url:
            source = "--base-url or the models file"
            url = endpoint.base_url
        else:
            source, url = BASE_URL_VARIABLE, os.environ.get(BASE_URL_VARIABLE, "")
        if not url:
            raise UsageError(f"{quoted(spec)} needs a base URL: pass --base-url URL, set {BASE_URL_VARIABLE}, "
                             "or name an endpoint with base_url in the models file")
        return check_base_url(url, spec, source)

    def known_models(self) -> list[str]:
        return ["openai-compatible/<model id the server serves>"]
