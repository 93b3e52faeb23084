"""Where an encounter reads the time: the system clock, or a frozen one for exact re-runs."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Wall-clock time, timezone-aware (UTC)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a monotonic clock, for latencies."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.perf_counter()


@dataclass(frozen=True)
class FrozenClock:
    """Always the same instant and zero latency: transcripts come out byte-identical."""

    instant: datetime = datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.instant

    def monotonic(self) -> float:
        return 0.0
