"""Errors the CLI turns into one-line messages (exit code 2) instead of tracebacks."""

from __future__ import annotations


class ArenaError(Exception):
    """Base of user-facing errors."""


class UsageError(ArenaError):
    """Bad input from the user: an unknown id, a malformed spec."""


class ScenarioError(ArenaError):
    """A scenario file that does not load: names file, field and reason."""


class ModelError(ArenaError):
    """A model call failed (network, provider, protocol). Retryable when ``retryable``."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable
