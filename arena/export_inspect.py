"""``arena export inspect RUN``: a run's transcripts as inspect_ai eval logs, written through
inspect_ai's own Python API (``EvalLog``, ``write_eval_log``; the optional ``inspect`` extra), so
``inspect view`` opens them.

One log per target model (inspect's unit is a model on a task): one sample per encounter, id the
encounter id, with the conversation as chat messages (simulator = user, target = assistant; each
image as a text reference with its sha256, since images are never copied into outputs), the judge's
five dimension scores (1-5) as one ``Score`` with the rationales, and the run's facts (scenario,
mode, seed, termination, flags, parent of a fork) in the sample's metadata. The log's results hold
the per-dimension means.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from arena.cli_parser import version
from arena.errors import ArenaError, UsageError
from arena.records import NOT_TRANSCRIPTS, load_transcript
from arena.schemas.scenario import Dimension
from arena.schemas.transcript import Transcript

TASK = "clinical-image-arena"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def transcripts_of(run_dir: Path) -> list[Transcript]:
    """Every transcript file of a run folder (forks included; ``failed/`` and other outputs not)."""
    paths = sorted(p for p in run_dir.glob("*.json") if p.name not in NOT_TRANSCRIPTS)
    if not paths:
        raise UsageError(f"{run_dir}: no transcripts; valid: a run folder written by arena match, demo or tournament")
    return [load_transcript(p) for p in paths]


def _inspect() -> Any:
    try:
        import inspect_ai.log as log
        import inspect_ai.model as model
        import inspect_ai.scorer as scorer
    except ImportError:
        raise UsageError("arena export inspect needs inspect_ai: pip install 'clinical-image-arena[inspect]'") from None
    return log, model, scorer


def _sample(t: Transcript, log: Any, model: Any, scorer: Any) -> Any:
    messages = []
    for turn in t.turns:
        text = turn.text
        if turn.images:
            refs = ", ".join(f"{i} (sha256 {h})" for i, h in zip(turn.images, turn.image_sha256, strict=False))
            text = f"{text}\n\n[images shown: {refs or ', '.join(turn.images)}]"
        if turn.role == "simulator":
            messages.append(model.ChatMessageUser(content=text, source="input"))
        else:
            messages.append(model.ChatMessageAssistant(content=text, model=t.target, source="generate"))
    scores = {}
    if t.verdict is not None:
        scores["arena"] = scorer.Score(
            value={d.value: t.verdict.score(d) for d in Dimension} | {"overall": t.verdict.overall},
            explanation="\n".join(f"{d.value}: {s.rationale}" for d, s in t.verdict.scores.items()),
            metadata={"judge": t.verdict.judge, "flags": t.verdict.flags,
                      "evidence_turns": {d.value: s.evidence_turns for d, s in t.verdict.scores.items()}})
    last = next((m for m in reversed(messages) if m.role == "assistant"), None)
    output = model.ModelOutput.from_content(t.target, last.text) if last is not None else model.ModelOutput()
    meta = {"scenario_id": t.scenario_id, "mode": t.mode.value, "seed": t.seed, "run": t.run,
            "match_id": t.match_id, "termination": t.termination.value, "simulator": t.simulator,
            "judge_error": t.judge_error.message if t.judge_error else None,
            "parent": t.parent.model_dump(mode="json") if t.parent else None}
    return log.EvalSample(id=t.encounter_id, epoch=1, input=messages[0].text if messages else "", target="",
                          messages=messages, output=output, scores=scores, metadata=meta,
                          started_at=t.started_at.isoformat(), completed_at=t.finished_at.isoformat())


def export(run_dir: Path, out: Path | None = None) -> list[Path]:
    """Write one ``.eval`` log per target model under ``out`` (default ``RUN/inspect/``)."""
    log, model, scorer = _inspect()
    by_model: dict[str, list[Transcript]] = defaultdict(list)
    for t in transcripts_of(run_dir):
        by_model[t.target].append(t)
    folder = out or run_dir / "inspect"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {folder}: cannot create it ({exc.strerror})") from None
    written = []
    for target, transcripts in by_model.items():
        samples = [_sample(t, log, model, scorer) for t in transcripts]
        judged = [t.verdict for t in transcripts if t.verdict is not None]
        metrics = [log.EvalScore(name=d.value, scorer="arena", metrics={"mean": log.EvalMetric(
            name="mean", value=sum(v.score(d) for v in judged) / len(judged))}) for d in Dimension] if judged else []
        spec = log.EvalSpec(created=datetime.now(UTC).isoformat(), task=TASK, model=target,
                            dataset=log.EvalDataset(name=run_dir.name, samples=len(samples)),
                            config=log.EvalConfig(), metadata={"run": run_dir.name, "arena_version": version()})
        eval_log = log.EvalLog(eval=spec, status="success", samples=samples,
                               results=log.EvalResults(total_samples=len(samples), completed_samples=len(judged),
                                                       scores=metrics))
        path = folder / f"{_SAFE.sub('_', target)}.eval"
        try:
            log.write_eval_log(eval_log, str(path), format="eval")
        except OSError as exc:
            raise ArenaError(f"cannot write {path}: {exc.strerror}") from None
        written.append(path)
    return written
