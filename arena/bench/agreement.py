"""How far to trust the judge: the figures of ``arena agreement`` over the benchmark's judged
transcripts (with everything and ablated alike). With ``--annotations`` each judge (a jury's
members and the jury) is compared with the mean human score and the humans with each other; with
a jury and no annotations, Krippendorff's alpha among its members; with one judge and no
annotations there is nothing to compare, and the document says so."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from arena.bench.config import BenchSettings
from arena.records import load_transcript
from arena.schemas.transcript import Transcript


def agreement(rows: Sequence[Mapping[str, Any]], run_dir: Path, s: BenchSettings) -> dict[str, Any]:
    from arena.cli_agreement import analyse, read_annotations

    annotations = read_annotations(Path(s.annotations)) if s.annotations else []
    if len(s.judge) < 2 and not annotations:
        return {"basis": "none", "note": "one judge and no human annotations: no agreement figure (pass "
                "--annotations FILE.jsonl, or a jury of several --judge)"}
    transcripts: dict[str, Transcript] = {}
    for row in rows:
        if row["scores"]:
            transcripts[row["id"]] = load_transcript(run_dir / row["transcript"])
    reports, _ = analyse(annotations, transcripts, None)
    return {"basis": "humans" if annotations else "judges", "annotations": len(annotations),
            "dimensions": {d: r.model_dump(mode="json") for d, r in reports.items()}}
