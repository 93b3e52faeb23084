"""Builders for tests on the wire: provider clients over an ``httpx2.MockTransport``."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2
from PIL import Image

SENTINEL_KEY = "sk-SENTINEL-7f3a9c1e5b2d4680aa11"


def openai_reply(text: str, *, model: str = "m", finish: str = "stop", refusal: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if refusal is not None:
        message = {"role": "assistant", "content": None, "refusal": refusal}
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}}


def anthropic_reply(text: str | None = None, *, tool_input: dict[str, Any] | None = None,
                    stop: str = "end_turn") -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if text is not None:
        content.append({"type": "text", "text": text})
    if tool_input is not None:
        content.append({"type": "tool_use", "id": "toolu_1", "name": "verdict", "input": tool_input})
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x", "content": content,
            "stop_reason": stop, "stop_sequence": None, "usage": {"input_tokens": 13, "output_tokens": 5}}


Responder = Callable[[httpx2.Request, int], httpx2.Response]


@dataclass
class Wire:
    """A mock transport that records every request and answers with ``responder(request, n)``."""

    responder: Responder
    requests: list[httpx2.Request] = field(default_factory=list)

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        self.requests.append(request)
        return self.responder(request, len(self.requests))

    def client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=httpx2.MockTransport(self.handler))

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]


def ok(payload: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> httpx2.Response:
    return httpx2.Response(status, json=payload, headers=headers or {})


def data_url_bytes(url: str) -> tuple[str, bytes]:
    head, _, data = url.partition(",")
    return head.removeprefix("data:").removesuffix(";base64"), base64.b64decode(data)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def noise_png(width: int, height: int, seed: int = 0) -> bytes:
    """A PNG that does not compress (random pixels), so byte limits bite."""
    import numpy as np

    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def image_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        return img.size
