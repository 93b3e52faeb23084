"""Provider adapters on the wire: the real ``openai`` and ``anthropic`` SDKs over an
``httpx2.MockTransport``. Exact request shapes (images included, downsized where the provider
requires, replaced by a note for text-only models), retries on 429 / 500 / timeouts, fast failure
on 401, malformed bodies, and a sentinel key that never appears in any output."""

from __future__ import annotations

import json

import httpx2
import pytest

from arena.clients.base import IMAGE_NOTE
from arena.composition import create_client, run_encounter
from arena.config import EndpointConfig, ModelsConfig
from arena.gateway import Gateway
from arena.schemas.calls import ErrorClass, ImageRef
from arena.schemas.messages import ImagePart, Message, ModelRequest, ResponseSchema, TextPart
from arena.schemas.transcript import TerminationReason
from scenarios.library import ScenarioLibrary
from tests.conftest import run
from tests.helpers import no_wait_gateway
from tests.wire import (
    SENTINEL_KEY,
    Wire,
    anthropic_reply,
    data_url_bytes,
    image_size,
    noise_png,
    ok,
    openai_reply,
    sha,
)

LOCAL = "http://127.0.0.1:9/v1"  # never reached: the mock transport answers


def _config(**endpoint: object) -> ModelsConfig:
    return ModelsConfig(endpoints={"local": EndpointConfig(provider="openai-compatible", base_url=LOCAL,
                                                           **endpoint)})  # type: ignore[arg-type]


def _image_request(data: bytes, text: str = "What is this?") -> ModelRequest:
    return ModelRequest(messages=[Message.text("system", "be careful"),
                                  Message(role="user", parts=[TextPart(text=text),
                                                              ImagePart(image_id="img", data=data)])])


def _ref(result: object) -> ImageRef:
    refs = [p for m in result.call.request.messages for p in m.parts if isinstance(p, ImageRef)]  # type: ignore[attr-defined]
    assert len(refs) == 1
    return refs[0]


class _Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SENTINEL_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", SENTINEL_KEY)


def test_openai_request_carries_the_image_bytes_and_the_key_only_in_the_header(keys: None,
                                                                              library: ScenarioLibrary) -> None:
    mole = library.get("derm-changing-mole")
    data = library.image_bytes(mole)[mole.current_images[0].id]
    wire = Wire(lambda r, n: ok(openai_reply("A pigmented lesion.")))
    client = create_client("openai/gpt-4o", http_client=wire.client())
    result = run(Gateway().call(client, _image_request(data), role="target"))
    assert result.response is not None and result.response.text == "A pigmented lesion."
    (request,) = wire.requests
    assert request.url.path.endswith("/chat/completions")
    assert request.headers["authorization"] == f"Bearer {SENTINEL_KEY}"
    body = json.loads(request.content)
    assert body["model"] == "gpt-4o" and body["messages"][0] == {"role": "system", "content": "be careful"}
    text_part, image_part = body["messages"][1]["content"]
    assert text_part == {"type": "text", "text": "What is this?"}
    media, sent = data_url_bytes(image_part["image_url"]["url"])
    assert media == "image/png" and sent == data  # small enough: sent as it is, never upscaled
    ref = _ref(result)
    assert isinstance(ref, ImageRef) and ref.sha256 == sha(sent) and not ref.resized
    assert SENTINEL_KEY not in result.call.model_dump_json() and SENTINEL_KEY not in repr(client)
    assert result.call.usage.input_tokens == 11 and result.call.usage.cost_usd is not None


def test_openai_downsizes_to_its_long_side_and_records_what_was_sent(keys: None) -> None:
    big = noise_png(3000, 1500)
    wire = Wire(lambda r, n: ok(openai_reply("ok")))
    client = create_client("openai/gpt-4o", http_client=wire.client())
    result = run(Gateway().call(client, _image_request(big), role="target"))
    url = wire.bodies()[0]["messages"][1]["content"][1]["image_url"]["url"]
    _, sent = data_url_bytes(url)
    assert image_size(sent) == (2048, 1024)
    ref = _ref(result)
    assert isinstance(ref, ImageRef) and ref.resized and ref.sha256 == sha(sent) and ref.source_sha256 == sha(big)
    assert (ref.width, ref.height) == (2048, 1024)


def test_configured_byte_limit_is_met_by_shrinking(keys: None) -> None:
    big = noise_png(1200, 1200)  # ~4.3 MB of noise
    wire = Wire(lambda r, n: ok(openai_reply("ok")))
    client = create_client("local/m", config=_config(max_image_bytes=400_000), http_client=wire.client())
    run(Gateway().call(client, _image_request(big), role="target"))
    media, sent = data_url_bytes(wire.bodies()[0]["messages"][1]["content"][1]["image_url"]["url"])
    assert len(sent) <= 400_000 < len(big) and media in ("image/png", "image/jpeg")
    assert max(image_size(sent)) <= 1200


def test_anthropic_request_shape_with_base64_image_block_and_downsizing(keys: None) -> None:
    big = noise_png(2400, 1800)
    wire = Wire(lambda r, n: ok(anthropic_reply("Looks benign.")))
    client = create_client("anthropic/claude-sonnet-4-5", http_client=wire.client())
    result = run(Gateway().call(client, _image_request(big), role="target"))
    assert result.response is not None and result.response.text == "Looks benign."
    (request,) = wire.requests
    assert request.url.path.endswith("/v1/messages")
    assert SENTINEL_KEY in (request.headers.get("x-api-key", ""), request.headers.get("authorization", "").removeprefix("Bearer "))
    body = json.loads(request.content)
    assert body["system"] == "be careful" and body["max_tokens"] >= 1
    assert [m["role"] for m in body["messages"]] == ["user"]
    text_block, image_block = body["messages"][0]["content"]
    assert text_block == {"type": "text", "text": "What is this?"}
    assert image_block["type"] == "image" and image_block["source"]["type"] == "base64"
    import base64

    sent = base64.b64decode(image_block["source"]["data"])
    assert max(image_size(sent)) == 1568 and len(sent) <= 3_750_000
    assert image_block["source"]["media_type"] in ("image/png", "image/jpeg")
    ref = _ref(result)
    assert isinstance(ref, ImageRef) and ref.sha256 == sha(sent) and ref.resized


def test_anthropic_structured_output_is_a_forced_tool(keys: None) -> None:
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
    wire = Wire(lambda r, n: ok(anthropic_reply(tool_input={"x": 3}, stop="tool_use")))
    client = create_client("anthropic/claude-sonnet-4-5", http_client=wire.client())
    request = ModelRequest(messages=[Message.text("user", "give x")],
                           response_schema=ResponseSchema(name="verdict", schema=schema))
    result = run(Gateway().call(client, request, role="judge"))
    body = wire.bodies()[0]
    assert body["tools"][0]["name"] == "verdict" and body["tools"][0]["input_schema"] == schema
    assert body["tool_choice"] == {"type": "tool", "name": "verdict"}
    assert result.response is not None and json.loads(result.response.text) == {"x": 3}


def test_openai_structured_output_is_a_response_format(keys: None) -> None:
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}}
    wire = Wire(lambda r, n: ok(openai_reply('{"x": 1}')))
    for config, expected in ((None, "json_schema"), (_config(structured_output="json_object"), "json_object")):
        spec = "openai/gpt-4o" if config is None else "local/m"
        client = create_client(spec, config=config, http_client=wire.client())
        run(Gateway().call(client, ModelRequest(messages=[Message.text("user", "x")],
                                                response_schema=ResponseSchema(name="s", schema=schema)),
                           role="judge"))
        fmt = wire.bodies()[-1]["response_format"]
        assert fmt["type"] == expected
        assert (fmt["json_schema"]["schema"] if expected == "json_schema" else fmt["schema"]) == schema


def test_text_only_model_gets_the_note_and_the_transcript_says_it_saw_none(library: ScenarioLibrary) -> None:
    mole = library.get("derm-changing-mole")
    wire = Wire(lambda r, n: ok(openai_reply("I cannot see images; tell me more.")))
    client = create_client("local/m", config=_config(vision=False), http_client=wire.client())
    transcript = run(run_encounter(mole, client, library.image_bytes(mole), max_turns=2, target_spec="local/m"))
    first = wire.bodies()[0]["messages"][1]
    assert isinstance(first["content"], str) and IMAGE_NOTE in first["content"]
    assert all("image_url" not in json.dumps(b) for b in wire.bodies())
    assert transcript.target_saw_images is False
    assert transcript.calls[0].request.images_withheld == len(mole.current_images)


def test_429_with_retry_after_is_honoured_then_succeeds(keys: None) -> None:
    def responder(request: httpx2.Request, n: int) -> httpx2.Response:
        if n == 1:
            return ok({"error": {"message": "slow down", "type": "rate_limit"}}, 429, {"retry-after": "7"})
        return ok(openai_reply("fine"))

    wire = Wire(responder)
    sleeps = _Sleeps()
    client = create_client("openai/gpt-4o", http_client=wire.client())
    result = run(Gateway(sleep=sleeps).call(client, ModelRequest(messages=[Message.text("user", "hi")]),
                                            role="target"))
    assert result.response is not None and len(wire.requests) == 2 and sleeps.waits == [7.0]
    first, second = result.call.attempts
    assert first.error_class == ErrorClass.RATE_LIMIT and first.retry_after_s == 7.0 and first.status == 429
    assert first.kind == "infrastructure" and second.outcome == "ok"


def test_500s_are_retried_with_backoff_then_recorded_as_target_error_and_not_scored(
        keys: None, library: ScenarioLibrary) -> None:
    from arena.composition import build_cast
    from arena.runner import plan_encounter, play

    wire = Wire(lambda r, n: ok({"error": {"message": "boom"}}, 500))
    sleeps = _Sleeps()
    cast = build_cast(gateway=Gateway(sleep=sleeps), http_client=wire.client())
    plan = plan_encounter(library, "derm-changing-mole", "openai/gpt-4o")
    transcript = run(play(plan, cast))
    assert transcript.termination == TerminationReason.TARGET_ERROR and transcript.verdict is None
    assert len(wire.requests) == 3  # the first attempt and two retries (the default)
    attempts = transcript.calls[0].attempts
    assert [a.error_class for a in attempts] == [ErrorClass.SERVER] * 3 and attempts[0].status == 500
    assert len(sleeps.waits) == 2 and 0.25 <= sleeps.waits[0] <= 0.5 and 0.5 <= sleeps.waits[1] <= 1.0
    assert [e.attempt for e in transcript.errors] == [1, 2, 3]


def test_timeouts_and_connection_errors_are_retried(keys: None) -> None:
    def responder(request: httpx2.Request, n: int) -> httpx2.Response:
        if n == 1:
            raise httpx2.ReadTimeout("timed out", request=request)
        if n == 2:
            raise httpx2.ConnectError("refused", request=request)
        return ok(openai_reply("there"))

    wire = Wire(responder)
    client = create_client("openai/gpt-4o", http_client=wire.client())
    result = run(no_wait_gateway().call(client, ModelRequest(messages=[Message.text("user", "hi")]), role="target",
                                        retries=3))
    assert result.response is not None and result.response.text == "there"
    assert [a.error_class for a in result.call.attempts[:2]] == [ErrorClass.TIMEOUT, ErrorClass.CONNECTION]


def test_401_fails_fast_with_a_clear_message_and_no_key(keys: None) -> None:
    wire = Wire(lambda r, n: ok({"error": {"message": f"bad key {r.headers['authorization']}"}}, 401))
    client = create_client("openai/gpt-4o", http_client=wire.client())
    result = run(no_wait_gateway().call(client, ModelRequest(messages=[Message.text("user", "hi")]), role="target"))
    assert result.response is None and len(wire.requests) == 1
    (attempt,) = result.call.attempts
    assert attempt.error_class == ErrorClass.AUTH and "check the API key" in attempt.message
    assert SENTINEL_KEY not in attempt.message and "***" in attempt.message
    assert SENTINEL_KEY not in str(result.error)


def test_400_fails_fast(keys: None) -> None:
    wire = Wire(lambda r, n: ok({"error": {"message": "image too large"}}, 400))
    client = create_client("anthropic/claude-sonnet-4-5", http_client=wire.client())
    result = run(no_wait_gateway().call(client, ModelRequest(messages=[Message.text("user", "hi")]), role="target"))
    assert result.response is None and len(wire.requests) == 1
    assert result.call.error_class == ErrorClass.BAD_REQUEST


@pytest.mark.parametrize("body", [b"not json at all", b'{"id": "x", "choices": []}', b"[1, 2]"])
def test_malformed_bodies_are_retried_then_recorded(keys: None, body: bytes) -> None:
    wire = Wire(lambda r, n: httpx2.Response(200, content=body, headers={"content-type": "application/json"}))
    client = create_client("openai/gpt-4o", http_client=wire.client())
    result = run(no_wait_gateway().call(client, ModelRequest(messages=[Message.text("user", "hi")]), role="target"))
    assert result.response is None and len(wire.requests) == 3
    assert {a.error_class for a in result.call.attempts} == {ErrorClass.MALFORMED}


def test_refusal_content_filter_and_empty_are_model_outcomes_not_infrastructure(keys: None) -> None:
    replies = [openai_reply("", refusal="I can't help with that."), openai_reply("", finish="content_filter"),
               openai_reply("   ")]
    wire = Wire(lambda r, n: ok(replies[n - 1]))
    client = create_client("openai/gpt-4o", http_client=wire.client())
    outcomes = []
    for _ in replies:
        result = run(Gateway().call(client, ModelRequest(messages=[Message.text("user", "hi")]), role="target"))
        assert result.response is not None and len(result.call.attempts) == 1
        assert result.call.attempts[0].kind == "model"
        outcomes.append(result.call.error_class)
    assert outcomes == [ErrorClass.REFUSAL, ErrorClass.CONTENT_FILTER, ErrorClass.EMPTY]
    assert not any(o.is_infrastructure for o in outcomes if o)


def test_concurrency_limit_per_endpoint_is_respected() -> None:
    import asyncio

    from arena.clients.base import ClientTraits
    from arena.schemas.messages import ModelResponse

    class Slow:
        name = "slow"
        supports_images = True
        traits = ClientTraits(endpoint="e", concurrency=2)

        def __init__(self) -> None:
            self.active = 0
            self.peak = 0

        async def complete(self, request: ModelRequest) -> ModelResponse:
            self.active += 1
            self.peak = max(self.peak, self.active)
            await asyncio.sleep(0.01)
            self.active -= 1
            return ModelResponse(text="x", model="slow")

    client = Slow()
    gateway = Gateway()

    async def many() -> None:
        await asyncio.gather(*[gateway.call(client, ModelRequest(messages=[Message.text("user", str(i))]),
                                            role="target") for i in range(8)])

    run(many())
    assert client.peak == 2 and gateway.network_calls == 8
