"""The response cache (an identical re-run makes zero calls), the models file, keys that never
leak (a sentinel key through the whole CLI over real HTTP on 127.0.0.1)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx2
import pytest

from arena.cli import main
from arena.composition import build_cast, create_client, registry
from arena.config import EndpointConfig, ModelsConfig, load_models_config
from arena.errors import UsageError
from arena.gateway import Gateway
from arena.runner import plan_encounter, play
from arena.schemas.messages import Message, ModelRequest
from scenarios.library import ScenarioLibrary
from tests.conftest import run
from tests.wire import SENTINEL_KEY, Wire, ok, openai_reply

LOCAL = "http://127.0.0.1:9/v1"


def _local() -> ModelsConfig:
    return ModelsConfig(endpoints={"local": EndpointConfig(provider="openai-compatible", base_url=LOCAL)})


def _answer(request: httpx2.Request, n: int) -> httpx2.Response:
    body = json.loads(request.content)
    turns = len(body["messages"])
    return ok(openai_reply(f"Answer to a {turns}-message chat: a lesion with an irregular border, 60% likely."))


def test_an_identical_rerun_with_the_cache_makes_zero_calls(library: ScenarioLibrary, tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite"
    plan = plan_encounter(library, "derm-changing-mole", "local/m", config=_local())
    first_wire = Wire(_answer)
    first_cast = build_cast(config=_local(), cache_path=cache, http_client=first_wire.client())
    first = run(play(plan, first_cast))
    first_cast.close()
    made = len(first_wire.requests)
    assert made >= 2 and first_cast.gateway.network_calls == made and first.usage and first.usage.calls == made

    second_wire = Wire(_answer)
    second_cast = build_cast(config=_local(), cache_path=cache, http_client=second_wire.client())
    second = run(play(plan, second_cast))
    second_cast.close()
    assert len(second_wire.requests) == 0 and second_cast.gateway.network_calls == 0
    assert second.usage is not None and second.usage.calls == 0 and second.usage.cached == made
    assert [t.text for t in second.turns] == [t.text for t in first.turns]
    assert all(c.cached for c in second.calls if c.role == "target")
    assert second.verdict is not None and second.verdict.scores == first.verdict.scores  # type: ignore[union-attr]

    other = plan_encounter(library, "derm-changing-mole", "local/m", config=_local(), seed=1)
    third_wire = Wire(_answer)
    third_cast = build_cast(config=_local(), cache_path=cache, http_client=third_wire.client())
    run(play(other, third_cast))
    assert len(third_wire.requests) >= 1  # another seed is another request: not served from the cache


def test_errors_are_never_cached(tmp_path: Path) -> None:
    from arena.cache import ResponseCache

    wire = Wire(lambda r, n: ok({"error": {"message": "bad"}}, 400) if n == 1 else ok(openai_reply("fine")))
    client = create_client("local/m", config=_local(), http_client=wire.client())
    gateway = Gateway(cache=ResponseCache(tmp_path / "c.sqlite"))
    request = ModelRequest(messages=[Message.text("user", "hi")])
    assert run(gateway.call(client, request, role="target")).response is None
    assert run(gateway.call(client, request, role="target")).response is not None
    assert len(wire.requests) == 2 and len(gateway.cache) == 1  # type: ignore[arg-type]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_models_file_names_endpoints_prices_and_limits(tmp_path: Path) -> None:
    path = _write(tmp_path, """
[endpoints.gw]
provider = "openai-compatible"
base_url = "http://127.0.0.1:9/v1"
vision = false
concurrency = 3
max_retries = 4
params = { temperature = 0.3, max_tokens = 77 }
prices = { m = { input_per_mtok = 1.0, output_per_mtok = 2.0 } }
""")
    config = load_models_config(path, explicit=True)
    wire = Wire(lambda r, n: ok(openai_reply("hello")))
    client = create_client("gw/m", config=config, http_client=wire.client())
    assert client.supports_images is False
    result = run(Gateway().call(client, ModelRequest(messages=[Message.text("user", "hi")]), role="target"))
    body = wire.bodies()[0]
    assert body["temperature"] == 0.3 and body["max_tokens"] == 77 and body["model"] == "m"
    assert result.call.usage.cost_usd == pytest.approx((11 * 1.0 + 7 * 2.0) / 1e6)
    traits = client.traits  # type: ignore[attr-defined]
    assert traits.concurrency == 3 and traits.retries == 4 and traits.image_limits is None


@pytest.mark.parametrize(("text", "expected"), [
    ("[endpoints.x]\nprovider = 'nope'\n", "endpoints.x.provider"),
    ("[endpoints.x]\nprovider = 'openai'\nbase_urll = 'http://a'\n", "base_urll"),
    ("[endpoints.x]\nprovider = 'openai-compatible'\nbase_url = 'ftp://a'\n", "http://"),
    ("[endpoints.X]\nprovider = 'openai'\n", "endpoint name"),
    ("not = [toml", "not valid TOML"),
    ("[endpoints.x]\nprovider = 'openai'\nconcurrency = 0\n", "concurrency"),
])
def test_a_bad_models_file_is_one_line_naming_the_field(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(UsageError, match=expected) as caught:
        load_models_config(_write(tmp_path, text), explicit=True)
    assert "\n" not in str(caught.value)


def test_unknown_providers_and_missing_keys_name_the_valid_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(UsageError, match="valid providers: reference, openai, anthropic, openai-compatible"):
        registry().check("gemini/pro")
    with pytest.raises(UsageError, match="ANTHROPIC_API_KEY"):
        registry().check("anthropic/claude-sonnet-4-5")
    with pytest.raises(UsageError, match="provider/model"):
        registry().check("openai")


class _Echo(BaseHTTPRequestHandler):
    """Answers 401 with the key it was sent in the body (a hostile or careless endpoint), or 200
    with the key inside the answer when the path says so."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's API
        self.rfile.read(int(self.headers.get("content-length", 0)))
        auth = self.headers.get("authorization", "")
        if self.server.mode == "401":  # type: ignore[attr-defined]
            payload, status = {"error": {"message": f"invalid key {auth}"}}, 401
        else:
            payload, status = openai_reply(f"Your key is {auth}. An irregular mole."), 200
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture(params=["401", "200"])
def echo_server(request: pytest.FixtureRequest) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    server.mode = request.param  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_the_sentinel_key_appears_in_no_output(echo_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", SENTINEL_KEY)
    for json_flag in ([], ["--json"]):
        code = main(["match", "--scenario", "derm-changing-mole", "--target", "openai-compatible/m",
                     "--base-url", echo_server, "--out", str(tmp_path), "--max-turns", "2", *json_flag])
        out, err = capsys.readouterr()
        assert code == 0
        assert SENTINEL_KEY not in out and SENTINEL_KEY not in err
    written = [p.read_text(encoding="utf-8") for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) >= 2 and all(SENTINEL_KEY not in text for text in written)
    assert any("***" in text for text in written)  # the key was there, and was scrubbed


def test_models_list_shows_endpoints_and_whether_keys_are_set_never_their_value(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SENTINEL_KEY)
    path = _write(tmp_path, "[endpoints.vllm]\nprovider = 'openai-compatible'\nbase_url = 'http://127.0.0.1:8000/v1'\n")
    assert main(["models", "list", "--models-file", str(path), "--json"]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    openai_row = next(p for p in data["providers"] if p["provider"] == "openai")
    assert openai_row["key_set"] is True and openai_row["key_variable"] == "OPENAI_API_KEY"
    assert [e["endpoint"] for e in data["endpoints"]] == ["vllm"]
    assert "reference/oracle" in next(p for p in data["providers"] if p["provider"] == "reference")["models"]
    assert SENTINEL_KEY not in out
    assert main(["models", "list", "--models-file", str(path)]) == 0
    assert SENTINEL_KEY not in capsys.readouterr().out


@pytest.mark.parametrize(("extra", "expected"), [
    (["--models-file", "/nonexistent/models.toml"], "no such file"),
    (["--target", "openai-compatible/m", "--base-url", "ftp://x"], "must start with http"),
    (["--simulator", "reference/oracle"], "cannot play the simulator"),
    (["--judge", "nope/x"], "valid providers"),
    (["--cache", "{tmp}"], "cannot open the response cache"),
])
def test_bad_model_options_are_one_line_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        extra: list[str], expected: str) -> None:
    args = ["match", "--scenario", "derm-changing-mole", "--target", "reference/oracle",
            "--out", str(tmp_path / "runs"), "--run", "r1"]
    args += [e.replace("{tmp}", str(tmp_path)) for e in extra]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2 and expected in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "runs" / "r1").exists()  # nothing claimed, nothing played
