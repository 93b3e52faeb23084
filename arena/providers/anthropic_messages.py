"""Anthropic's Messages API (``anthropic/<model>``) through the official ``anthropic`` SDK.

Images travel as base64 ``image`` blocks; the system prompt as the ``system`` parameter; a JSON
schema as one forced tool whose input is the answer. Anthropic takes at most 5 MB of base64 per
image and downsizes anything over 1568 px on the long side itself, so the arena sends at most
1568 px and 3,750,000 bytes (5 MB once base64-encoded). The SDK's own retries are off. The SDK
is imported when the first client is built, so commands that call no model start fast.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from arena.clients.base import ClientTraits, ImageLimits, effective_params
from arena.config import EndpointConfig
from arena.providers.common import SdkClient, check_base_url, require_key, timeout_for, traits_for
from arena.schemas.messages import ImagePart, Message, ModelRequest, ModelResponse, Usage

if TYPE_CHECKING:
    import anthropic

ANTHROPIC_LIMITS = ImageLimits(max_side=1568, max_bytes=3_750_000)
DEFAULT_MAX_TOKENS = 1024
STOP_REASONS = {"refusal": "refusal", "max_tokens": "length"}


def encode_message(message: Message) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, ImagePart):
            content.append({"type": "image", "source": {"type": "base64", "media_type": part.media_type,
                                                         "data": part.base64()}})
        elif part.text:
            content.append({"type": "text", "text": part.text})
    if not content:
        content.append({"type": "text", "text": "(empty)"})  # the API refuses an empty message
    return {"role": message.role, "content": content}


class AnthropicClient(SdkClient):
    def __init__(self, spec: str, model: str, endpoint: EndpointConfig, sdk_client: anthropic.AsyncAnthropic,
                 traits: ClientTraits) -> None:
        import anthropic

        super().__init__(spec, model, endpoint, traits, anthropic, anthropic.AnthropicError)
        self._sdk = sdk_client

    def request_body(self, request: ModelRequest) -> dict[str, Any]:
        params = effective_params(request, self.traits)
        system = "\n\n".join(m.text_content for m in request.messages if m.role == "system")
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": int(params.get("max_tokens", DEFAULT_MAX_TOKENS)),
            "messages": [encode_message(m) for m in request.messages if m.role != "system"],
        }
        if system:
            body["system"] = system
        if "temperature" in params:
            body["temperature"] = min(float(params["temperature"]), 1.0)
        if "top_p" in params:
            body["top_p"] = params["top_p"]
        schema = request.response_schema
        if schema is not None:
            body["tools"] = [{"name": schema.name, "description": schema.description or "Give the answer.",
                              "input_schema": schema.schema_}]
            body["tool_choice"] = {"type": "tool", "name": schema.name}
        return body

    async def _complete(self, request: ModelRequest) -> ModelResponse:
        message = await self.sdk.messages.create(**self.request_body(request))
        texts: list[str] = []
        for block in message.content:
            if block.type == "tool_use":
                texts = [json.dumps(block.input, ensure_ascii=False)]
                break
            if block.type == "text":
                texts.append(block.text)
        return ModelResponse(
            text="".join(texts), model=message.model or self.model,
            finish_reason=STOP_REASONS.get(str(message.stop_reason), "stop"),
            usage=Usage(input_tokens=message.usage.input_tokens, output_tokens=message.usage.output_tokens),
        )


class AnthropicProvider:
    name = "anthropic"
    summary = "Anthropic Messages API (key: ANTHROPIC_API_KEY)"
    key_variable = "ANTHROPIC_API_KEY"

    def check(self, model: str, endpoint: EndpointConfig) -> None:
        spec = f"{endpoint.name}/{model}"
        require_key(endpoint.api_key_env or self.key_variable, spec)
        if endpoint.base_url:
            check_base_url(endpoint.base_url, spec, "the models file")

    def create(self, model: str, endpoint: EndpointConfig, *, http_client: Any = None) -> AnthropicClient:
        import anthropic

        spec = f"{endpoint.name}/{model}"
        key = require_key(endpoint.api_key_env or self.key_variable, spec)

        def fresh() -> anthropic.AsyncAnthropic:
            return anthropic.AsyncAnthropic(api_key=key, base_url=endpoint.base_url, max_retries=0,
                                            timeout=timeout_for(endpoint), http_client=http_client)

        sdk_client = fresh()
        traits = traits_for(endpoint, model, ANTHROPIC_LIMITS, base_url=str(sdk_client.base_url))
        client = AnthropicClient(spec, model, endpoint, sdk_client, traits)
        client._fresh = fresh if http_client is None else None
        return client

    def known_models(self) -> list[str]:
        return ["anthropic/claude-sonnet-4-5", "anthropic/claude-opus-4-1 (any model id the API serves)"]
