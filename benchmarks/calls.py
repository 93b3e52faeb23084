"""What the call layer costs: gateway overhead per call (prepare, key, record), response-cache
hits, image fitting to a provider's limits, and a round trip through ``arena serve`` over HTTP.

    python benchmarks/calls.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arena.cache import ResponseCache  # noqa: E402
from arena.clients.base import ImageLimits  # noqa: E402
from arena.clients.images import _fit, fit_image  # noqa: E402
from arena.composition import create_client  # noqa: E402
from arena.config import EndpointConfig, ModelsConfig  # noqa: E402
from arena.gateway import Gateway  # noqa: E402
from arena.schemas.messages import ImagePart, Message, ModelRequest, ModelResponse, TextPart  # noqa: E402
from arena.serve import ServerThread  # noqa: E402
from scenarios.library import ScenarioLibrary  # noqa: E402


class Echo:
    name = "bench/echo"
    supports_images = True

    async def complete(self, request: ModelRequest) -> ModelResponse:
        return ModelResponse(text="ok " * 50, model=self.name)


def conversation(image: bytes, turns: int) -> ModelRequest:
    messages = [Message.text("system", "You are careful.")]
    messages.append(Message(role="user", parts=[TextPart(text="Here is my photo."),
                                                ImagePart(image_id="img", data=image)]))
    for i in range(turns):
        messages.append(Message.text("assistant", "An answer of moderate length. " * 20))
        messages.append(Message.text("user", f"Question {i}: and what about the border?"))
    return ModelRequest(messages=messages, seed=0)


async def gateway_overhead(image: bytes, n: int) -> float:
    gateway, client = Gateway(), Echo()
    request = conversation(image, 7)
    start = time.perf_counter()
    for _ in range(n):
        await gateway.call(client, request, role="target", scope="bench")
    return (time.perf_counter() - start) / n * 1000


async def cache_hits(image: bytes, n: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        from arena.clients.base import ClientTraits

        client = Echo()
        client.traits = ClientTraits(endpoint="bench", cacheable=True)  # type: ignore[attr-defined]
        gateway = Gateway(cache=ResponseCache(Path(tmp) / "c.sqlite"))
        request = conversation(image, 7)
        await gateway.call(client, request, role="target")
        start = time.perf_counter()
        for _ in range(n):
            await gateway.call(client, request, role="target")
        assert gateway.network_calls == 1
        return (time.perf_counter() - start) / n * 1000


def fit_big(n: int) -> float:
    import io

    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(0).integers(0, 256, (3000, 4000, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    big = out.getvalue()
    start = time.perf_counter()
    for _ in range(n):
        _fit.cache_clear()
        fit_image(ImagePart(image_id="b", data=big), ImageLimits(max_side=1568, max_bytes=3_750_000))
    return (time.perf_counter() - start) / n * 1000


async def served(image: bytes, n: int) -> float:
    with ServerThread() as server:
        config = ModelsConfig(endpoints={"local": EndpointConfig(provider="openai-compatible",
                                                                 base_url=server.base_url)})
        client = create_client("local/reference/pixel", config=config)
        request = conversation(image, 1)
        gateway = Gateway()
        await gateway.call(client, request, role="target")
        start = time.perf_counter()
        for _ in range(n):
            await gateway.call(client, request, role="target")
        return (time.perf_counter() - start) / n * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 20 if args.quick else 500
    library = ScenarioLibrary()
    mole = library.get("derm-changing-mole")
    image = library.image_bytes(mole)[mole.current_images[0].id]
    print(f"gateway overhead, 7-turn chat with a 640 px image: {asyncio.run(gateway_overhead(image, n)):.3f} ms/call")
    print(f"response-cache hit: {asyncio.run(cache_hits(image, n)):.3f} ms/call")
    print(f"fit a 4000x3000 noise PNG to 1568 px / 3.75 MB: {fit_big(1 if args.quick else 5):.0f} ms")
    round_trip = asyncio.run(served(image, 3 if args.quick else 30))
    print(f"arena serve round trip (reference/pixel over HTTP): {round_trip:.1f} ms/call")
    return 0


if __name__ == "__main__":
    sys.exit(main())
