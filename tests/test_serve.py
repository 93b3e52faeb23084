"""``arena serve``: the reference models over real HTTP on 127.0.0.1, driven by the real ``openai``
SDK and by the arena's own ``openai-compatible`` adapter, with real scenario images."""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest

from arena.cli_parser import ArenaParser
from arena.cli_serve import add_parser
from arena.composition import create_client
from arena.config import EndpointConfig, ModelsConfig
from arena.errors import UsageError
from arena.schemas.messages import ImagePart, Message, ModelRequest, ModelResponse, TextPart
from arena.serve import MAX_BODY_BYTES, MAX_SERVED_IMAGE_BYTES, ServerThread
from scenarios.library import ScenarioLibrary
from tests.conftest import run

SERVED = {"reference/pixel", "reference/blind"}
QUESTION = "What do you see in this image?"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread() as running:
        yield running


@pytest.fixture(scope="module")
def mole_png(library: ScenarioLibrary) -> bytes:
    return library.image_bytes(library.get("derm-changing-mole"))["current"]


@pytest.fixture(scope="module")
def chest_png(library: ScenarioLibrary) -> bytes:
    return library.image_bytes(library.get("cxr-multiple-nodules"))["current"]


def _sdk(server: ServerThread) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=0, timeout=60)


def _data_url(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


def _image_message(url: str, text: str = QUESTION) -> Any:  # an SDK message param (a TypedDict)
    return {"role": "user", "content": [{"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": url}}]}


def _post(server: ServerThread, body: bytes | dict[str, Any]) -> httpx2.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    with httpx2.Client(timeout=60) as http:
        return http.post(f"{server.base_url}/chat/completions", content=content,
                         headers={"content-type": "application/json"})


def _error(response: httpx2.Response) -> dict[str, Any]:
    """The OpenAI-style error object of a refused request (the shape is asserted, not assumed)."""
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and isinstance(error["message"], str) and error["message"]
    assert "Traceback" not in response.text
    return error


# ------------------------------------------------------------------ models


def test_models_are_listed_through_the_openai_sdk(server: ServerThread) -> None:
    async def listing() -> list[Any]:
        async with _sdk(server) as client:
            page = await client.models.list()
            return list(page.data)

    models = run(listing())
    assert {m.id for m in models} == SERVED and len(models) == 2
    assert all(m.object == "model" and m.owned_by == "arena" and m.created == 0 for m in models)
    assert server.base_url == f"http://127.0.0.1:{server.port}/v1" and server.port > 0


# ------------------------------------------------------------------ end to end, with images


def _ask_through_the_adapter(server: ServerThread, spec: str, image: bytes) -> ModelResponse:
    config = ModelsConfig(endpoints={"local": EndpointConfig(provider="openai-compatible", base_url=server.base_url)})
    client = create_client(spec, config=config)
    request = ModelRequest(messages=[Message(role="user", parts=[
        TextPart(text=QUESTION), ImagePart(image_id="current", media_type="image/png", data=image)])])
    return run(client.complete(request))


def test_the_arena_adapter_sends_real_images_and_pixel_reads_them(server: ServerThread, mole_png: bytes,
                                                                   chest_png: bytes) -> None:
    answers = []
    for image in (mole_png, chest_png):
        before = len(server.app.state.received)
        response = _ask_through_the_adapter(server, "local/reference/pixel", image)
        received = server.app.state.received
        assert len(received) == before + 1
        assert received[-1] == [hashlib.sha256(image).hexdigest()]  # the very bytes sent arrived
        assert response.text.strip() and response.model == "reference/pixel"
        assert response.usage.output_tokens == len(response.text.split()) and response.usage.input_tokens > 0
        answers.append(response.text)
    mole_answer, chest_answer = answers
    assert mole_answer != chest_answer  # the answer depends on the pixels that crossed the wire
    assert "mm" in mole_answer and "nodul" in chest_answer.lower()


def test_blind_answers_although_an_image_was_sent(server: ServerThread, mole_png: bytes) -> None:
    async def ask() -> Any:
        async with _sdk(server) as client:
            return await client.chat.completions.create(model="reference/blind",
                                                        messages=[_image_message(_data_url(mole_png))])

    completion = run(ask())
    assert server.app.state.received[-1] == [hashlib.sha256(mole_png).hexdigest()]  # it arrived, then was withheld
    assert completion.object == "chat.completion" and completion.model == "reference/blind"
    assert completion.id.startswith("chatcmpl-") and completion.choices[0].finish_reason == "stop"
    text = completion.choices[0].message.content
    assert completion.choices[0].message.role == "assistant" and text and "can't view" in text
    usage = completion.usage
    assert usage is not None and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0


def test_string_content_and_system_messages_are_accepted(server: ServerThread) -> None:
    response = _post(server, {"model": "reference/pixel", "temperature": 0.2, "max_tokens": 50, "seed": 3,
                              "response_format": {"type": "text"},
                              "messages": [{"role": "system", "content": "You are a doctor."},
                                           {"role": "user", "content": "I have a mole on my arm."}]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["choices"][0]["message"]["content"] and server.app.state.received[-1] == []


# ------------------------------------------------------------------ refused inputs


def test_streaming_is_refused(server: ServerThread) -> None:
    response = _post(server, {"model": "reference/pixel", "stream": True,
                              "messages": [{"role": "user", "content": "hello"}]})
    assert response.status_code == 400
    assert "stream" in _error(response)["message"]


def test_unknown_model_is_404_naming_the_valid_ids(server: ServerThread) -> None:
    response = _post(server, {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}]})
    assert response.status_code == 404
    message = _error(response)["message"]
    assert "gpt-4o" in message and all(model_id in message for model_id in SERVED)


def test_unknown_model_through_the_sdk_is_not_found(server: ServerThread) -> None:
    async def ask() -> None:
        async with _sdk(server) as client:
            await client.chat.completions.create(model="reference/oracle", messages=[{"role": "user", "content": "x"}])

    with pytest.raises(openai.NotFoundError) as caught:
        run(ask())
    assert "reference/pixel" in str(caught.value)


GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00" \
      b"\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"


@pytest.mark.parametrize(("url", "expected"), [
    ("https://example.org/mole.png", "never fetches"),
    ("http://127.0.0.1:1/mole.png", "never fetches"),
    ("data:image/png;base64,@@not base64@@", "base64"),
    ("data:image/png;base64,iVBORw0KGgo", "base64"),  # truncated: bad padding
    (_data_url(GIF), "not image/png"),  # a GIF labelled image/png
    (_data_url(GIF, "image/gif"), "not served"),
    (_data_url(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64), "does not decode"),  # PNG signature, no PNG
    ("data:image/png,plain", "base64"),
], ids=["https", "http-loopback", "garbage-base64", "bad-padding", "gif-as-png", "gif", "corrupt-png",
        "not-base64-encoded"])
def test_bad_images_are_refused(server: ServerThread, url: str, expected: str) -> None:
    before = len(server.app.state.received)
    response = _post(server, {"model": "reference/pixel", "messages": [_image_message(url)]})
    assert response.status_code == 400, response.text
    error = _error(response)
    assert expected in error["message"] and error["param"] == "messages[0].content[1]"
    assert len(server.app.state.received) == before  # refused before any model saw it


def test_an_image_over_the_size_cap_is_refused(server: ServerThread) -> None:
    payload = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * MAX_SERVED_IMAGE_BYTES).decode("ascii")
    response = _post(server, {"model": "reference/pixel",
                              "messages": [_image_message(f"data:image/png;base64,{payload}")]})
    assert response.status_code == 400
    assert f"larger than {MAX_SERVED_IMAGE_BYTES} bytes" in _error(response)["message"]


@pytest.mark.parametrize(("body", "expected"), [
    (b"this is not JSON", "not valid JSON"),
    (b"", "not valid JSON"),
    (b"[" * 10_000, "not valid JSON"),
    (b'{"model": "reference/pixel"}', "messages"),
    (b'{"model": "reference/pixel", "messages": []}', "messages"),
    (b'{"model": "reference/pixel", "messages": [{"role": "tool", "content": "x"}]}', "messages[0].role"),
    (b'{"model": "reference/pixel", "messages": [{"role": "user", "content": [{"type": "audio"}]}]}', "audio"),
    (b'{"model": "reference/pixel", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}',
     "temperature"),
    (b'{"model": "reference/pixel", "messages": [{"role": "user", "content": "x"}], "tools": []}', "tools"),
    (b'{"model": 5, "messages": [{"role": "user", "content": "x"}]}', "model"),
], ids=["text", "empty", "deep", "no-messages", "zero-messages", "tool-role", "audio-part", "bad-temperature",
        "unknown-field", "model-not-string"])
def test_malformed_bodies_are_400(server: ServerThread, body: bytes, expected: str) -> None:
    response = _post(server, body)
    assert response.status_code == 400, response.text
    assert expected in _error(response)["message"]


def test_a_body_declared_over_the_cap_is_refused_before_it_is_read(server: ServerThread) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {MAX_BODY_BYTES + 1}\r\nConnection: close\r\n\r\n".encode("ascii"))
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert f"larger than {MAX_BODY_BYTES} bytes" in json.loads(body)["error"]["message"]


def test_unknown_paths_and_methods_get_openai_errors(server: ServerThread) -> None:
    with httpx2.Client(timeout=30) as http:
        missing = http.get(f"{server.base_url}/embeddings")
        wrong_method = http.get(f"{server.base_url}/chat/completions")
        one_model = http.get(f"{server.base_url}/models/reference/blind")
    assert missing.status_code == 404 and "no such endpoint" in missing.json()["error"]["message"]
    assert wrong_method.status_code == 405 and "GET" in wrong_method.json()["error"]["message"]
    assert one_model.status_code == 200 and one_model.json()["id"] == "reference/blind"


# ------------------------------------------------------------------ latency, lifecycle, CLI


def test_latency_is_applied_to_every_call_and_the_server_stops() -> None:
    with ServerThread(latency_ms=200) as slow:
        async def ask() -> tuple[float, str | None]:
            async with _sdk(slow) as client:
                start = time.perf_counter()
                completion = await client.chat.completions.create(
                    model="reference/blind", messages=[{"role": "user", "content": "I have a rash."}])
                return time.perf_counter() - start, completion.choices[0].message.content

        elapsed, text = run(ask())
        port = slow.port
    assert elapsed >= 0.19 and text
    with pytest.raises(OSError):  # stopped: nothing listens on the port any more
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_remote_hosts_are_refused_without_allow_remote() -> None:
    with pytest.raises(UsageError, match="no authentication"):
        ServerThread(host="0.0.0.0").start()


def test_serve_subcommand_options() -> None:
    parser = ArenaParser(prog="arena")
    add_parser(parser.add_subparsers(dest="command", parser_class=ArenaParser))
    defaults = parser.parse_args(["serve"])
    assert (defaults.host, defaults.port, defaults.latency_ms, defaults.allow_remote) == ("127.0.0.1", 8089, 0, False)
    chosen = parser.parse_args(["serve", "--port", "0", "--latency-ms", "60000", "--host", "::1"])
    assert isinstance(chosen, argparse.Namespace) and (chosen.port, chosen.latency_ms, chosen.host) == (0, 60000, "::1")
    for bad in (["serve", "--latency-ms", "60001"], ["serve", "--port", "-1"], ["serve", "--port", "70000"]):
        with pytest.raises(UsageError):
            parser.parse_args(bad)


def test_accepted_connections_turn_nagle_off() -> None:
    """The listening socket says TCP, so asyncio sets TCP_NODELAY on every accepted connection:
    with Nagle on, each POST on a kept-alive connection waited ~40 ms for a delayed ACK."""
    from arena.serve import _bind

    sock, _url = _bind("127.0.0.1", 0, allow_remote=False)
    seen: list[int] = []

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            raw = transport.get_extra_info("socket")
            seen.append(raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        listening = await loop.create_server(Probe, sock=sock)
        try:
            _reader, writer = await asyncio.open_connection(*sock.getsockname()[:2])
            for _ in range(100):
                if seen:
                    break
                await asyncio.sleep(0.01)
            writer.close()
        finally:
            listening.close()
            await listening.wait_closed()

    run(main())
    assert seen and seen[0] != 0


def test_a_client_closes_its_connections_in_its_loop_and_opens_new_ones_after(server: ServerThread) -> None:
    config = ModelsConfig(endpoints={"local": EndpointConfig(provider="openai-compatible", base_url=server.base_url)})
    client = create_client("local/reference/blind", config=config)
    request = ModelRequest(messages=[Message(role="user", parts=[TextPart(text=QUESTION)])])
    first_sdk = client._sdk  # type: ignore[attr-defined]

    async def call_then_close() -> ModelResponse:
        response = await client.complete(request)
        await client.aclose()  # type: ignore[attr-defined]
        return response

    assert run(call_then_close()).text
    assert first_sdk.is_closed() and client.sdk is not first_sdk  # type: ignore[attr-defined]  # built anew on use
    assert run(client.complete(request)).text  # a later event loop: new connections, no error
    injected = httpx2.AsyncClient()
    given = create_client("local/reference/blind", config=config, http_client=injected)
    run(given.aclose())  # type: ignore[attr-defined]
    assert not injected.is_closed  # an injected client belongs to the test that made it
