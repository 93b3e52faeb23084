"""Fault injection (``arena.faults``): each kind becomes the right infrastructure error through the
real SDK over real HTTP on 127.0.0.1; a tournament through a faulty ``arena serve`` records every
match exactly once and rates exactly as a fault-free run; forced infrastructure errors are
excluded from ratings and played again on ``--resume``."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from arena.composition import create_client
from arena.config import load_models_config
from arena.errors import ModelError, UsageError
from arena.faults import KINDS, FaultDraw, FaultPlan, FaultyClient
from arena.schemas.messages import Message, ModelRequest
from arena.serve import ServerThread, build_app
from arena.tournament import run as trun
from arena.tournament.store import STORE_NAME

MODELS = "local/reference/pixel,local/reference/blind,reference/hedger"
SCENARIOS = "derm-changing-mole,cxr-multiple-nodules"


def _models_file(tmp_path: Path, base_url: str, name: str = "models.toml", **options: Any) -> Path:
    settings = {"concurrency": 2, "max_retries": 2, "backoff_s": 0.0, "timeout_s": 0.5, **options}
    lines = [f'[endpoints.local]\nprovider = "openai-compatible"\nbase_url = "{base_url}"'] + [
        f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_fault_plan_is_parsed_and_checked() -> None:
    plan = FaultPlan.parse("429=0.1, 5xx=0.05,timeout=0", seed=3)
    assert plan.rates == {"429": 0.1, "5xx": 0.05, "timeout": 0.0} and plan.seed == 3
    for bad, needle in (("nope=0.1", "valid kinds"), ("429", "KIND=RATE"), ("429=x", "number"),
                        ("429=1.5", "from 0 to 1"), ("429=0.6,5xx=0.6", "more than 1")):
        with pytest.raises(UsageError, match=needle):
            FaultPlan.parse(bad)


def test_draws_are_deterministic_and_bounded_in_a_row() -> None:
    plan = FaultPlan(rates={"5xx": 0.5, "429": 0.3}, seed=7, max_consecutive=2)
    first, second = FaultDraw(plan), FaultDraw(plan)
    bodies = [f"request {i}".encode() for i in range(200)]
    a = [first.next(b) for b in bodies for _ in range(3)]
    b = [second.next(b) for b in bodies for _ in range(3)]
    assert a == b and first.injected == second.injected
    assert 0.6 < sum(first.injected.values()) / len(a) < 0.8  # near the rates, bounded by the streak rule
    for i in range(0, len(a), 3):
        assert None in a[i:i + 3]  # never three in a row for one request: two retries always get through


@pytest.mark.parametrize(("kind", "error_class"), [
    ("429", "rate_limit"), ("5xx", "server"), ("timeout", "timeout"), ("drop", "connection"),
    ("truncated", "malformed"), ("malformed", "malformed"), ("empty", "malformed"),
])
def test_each_fault_is_the_right_infrastructure_error_over_real_http(tmp_path: Path, kind: str,
                                                                     error_class: str) -> None:
    plan = FaultPlan(rates={kind: 1.0}, retry_after_s=7, hang_s=2.0, max_consecutive=1000)
    with ServerThread(build_app(faults=plan)) as server:
        config = load_models_config(_models_file(tmp_path, server.base_url, max_retries=0))
        client = create_client("local/reference/pixel", config=config)
        request = ModelRequest(messages=[Message.text("user", "What do you see?")])
        with pytest.raises(ModelError) as caught:
            asyncio.run(client.complete(request))
        assert server.app.state.faults.injected[kind] == 1
    assert caught.value.error_class == error_class and caught.value.retryable
    if kind == "429":
        assert caught.value.retry_after_s == 7 and caught.value.status == 429


def test_the_client_wrapper_raises_the_same_errors() -> None:
    from arena.clients.scripted import ScriptedClient

    seen = set()
    for kind in KINDS:
        client = FaultyClient(ScriptedClient("s", ["fine"]), FaultPlan(rates={kind: 1.0}, max_consecutive=1))
        with pytest.raises(ModelError) as caught:
            asyncio.run(client.complete(ModelRequest(messages=[Message.text("user", "hi")])))
        seen.add(caught.value.error_class)
        assert asyncio.run(client.complete(ModelRequest(messages=[Message.text("user", "hi")]))).text == "fine"
        assert client.name == "s"
    assert seen == {"rate_limit", "server", "timeout", "connection", "malformed"}


def _tournament(tmp_path: Path, run: str, models_file: Path, *, resume: bool = False) -> dict[str, Any]:
    flags = {"models": MODELS, "scenarios": SCENARIOS, "seeds": 2, "concurrency": 4, "out": str(tmp_path),
             "run": run, "models_file": str(models_file), "bootstrap": 200}
    t = trun.prepare({"run": run, "out": str(tmp_path), "models_file": str(models_file)} if resume else flags,
                     None, resume=resume)
    try:
        return asyncio.run(trun.execute(t))
    finally:
        t.close()


def _ratings(board: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(m["model"], m["rating"], m["ci_low"], m["ci_high"], m["wins"], m["losses"], m["ties"], m.get("elo"))
            for m in board["models"]]


def test_a_tournament_through_faults_rates_exactly_as_one_without(tmp_path: Path) -> None:
    with ServerThread() as clean:
        calm = _tournament(tmp_path, "calm", _models_file(tmp_path, clean.base_url, "calm.toml"))
    plan = FaultPlan(rates={"429": 0.1, "5xx": 0.1, "timeout": 0.03, "drop": 0.05, "truncated": 0.05,
                            "malformed": 0.05, "empty": 0.05}, seed=11, hang_s=1.0, max_consecutive=2)
    with ServerThread(build_app(faults=plan)) as faulty:
        stormy = _tournament(tmp_path, "stormy", _models_file(tmp_path, faulty.base_url, "stormy.toml"))
        injected = faulty.app.state.faults.injected
    assert sum(injected.values()) >= 10 and len(injected) >= 5, injected  # the storm happened
    assert stormy["matches"]["errors"] == 0 and stormy["matches"]["finished"] == calm["matches"]["finished"] == 12
    assert _ratings(stormy) == _ratings(calm)
    with sqlite3.connect(tmp_path / "stormy" / STORE_NAME) as db:
        ids = [r[0] for r in db.execute("SELECT id FROM matches")]
        assert len(ids) == len(set(ids)) == 12
        retried = db.execute("SELECT COUNT(*) FROM encounters").fetchone()[0]
        assert retried == 3 * 2 * 2  # each encounter once, whatever its retries
    transcripts = [json.loads(p.read_text()) for p in (tmp_path / "stormy").glob("*.json") if "local_" in p.name]
    failed_attempts = [a for t in transcripts for c in t["calls"] for a in c["attempts"] if a["outcome"] == "error"]
    assert failed_attempts and all(a["error_class"] in {"rate_limit", "server", "timeout", "connection", "malformed"}
                                   for a in failed_attempts)


def test_forced_infrastructure_errors_are_excluded_then_played_again_on_resume(tmp_path: Path) -> None:
    with ServerThread() as clean:
        calm_file = _models_file(tmp_path, clean.base_url, "calm.toml")
        calm = _tournament(tmp_path, "calm", calm_file)
        plan = FaultPlan(rates={"5xx": 0.25, "drop": 0.1}, seed=5, max_consecutive=1000)
        with ServerThread(build_app(faults=plan)) as faulty:
            hurt = _tournament(tmp_path, "hurt", _models_file(tmp_path, faulty.base_url, "hurt.toml", max_retries=0))
        m = hurt["matches"]
        assert m["infrastructure_errors"] > 0 and m["rated"] == m["finished"] - m["errors"] < 12
        assert all(r["matches"] <= 8 for r in hurt["models"])
        healed = _tournament(tmp_path, "hurt", calm_file, resume=True)  # the provider is back
    assert healed["matches"]["errors"] == 0 and healed["matches"]["rated"] == 12
    assert _ratings(healed) == _ratings(calm)
    assert list((tmp_path / "hurt" / "failed").glob("*.json"))  # the failed transcripts kept, set aside
    with sqlite3.connect(tmp_path / "hurt" / STORE_NAME) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = [r[0] for r in db.execute("SELECT id FROM matches")]
        assert len(ids) == len(set(ids)) == 12


def test_a_tournament_closes_its_clients_in_its_own_event_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from arena.providers.common import SdkClient

    closed: list[tuple[str, bool]] = []
    original = SdkClient.aclose

    async def spy(self: SdkClient) -> None:
        sdk = self._sdk
        loop = asyncio.get_running_loop()  # raises outside a running loop
        await original(self)
        closed.append((self.name, sdk.is_closed() and not loop.is_closed()))

    monkeypatch.setattr(SdkClient, "aclose", spy)
    with ServerThread() as clean:
        _tournament(tmp_path, "tidy", _models_file(tmp_path, clean.base_url))
    assert sorted(closed) == [("local/reference/blind", True), ("local/reference/pixel", True)]


def test_a_call_that_meets_a_closed_client_is_a_retryable_connection_error() -> None:
    with ServerThread() as server:
        config = load_models_config(_write(server.base_url))
        client = create_client("local/reference/blind", config=config)
        request = ModelRequest(messages=[Message.text("user", "hello")])

        async def race() -> None:
            await client.complete(request)
            old = client.sdk  # type: ignore[attr-defined]
            await client.aclose()  # type: ignore[attr-defined]
            client._closed, client._sdk = False, old  # type: ignore[attr-defined]  # a call that began before the close
            with pytest.raises(ModelError) as caught:
                await client.complete(request)
            assert caught.value.error_class == "connection" and caught.value.retryable

        asyncio.run(race())


def _write(base_url: str) -> Path:
    import tempfile

    folder = Path(tempfile.mkdtemp())
    return _models_file(folder, base_url)
