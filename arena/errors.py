"""Errors the CLI turns into one-line messages (exit code 2) instead of tracebacks."""

from __future__ import annotations


class ArenaError(Exception):
    """Base of user-facing errors."""


class UsageError(ArenaError):
    """Bad input from the user: an unknown id, a malformed spec."""


class ScenarioError(ArenaError):
    """A scenario file that does not load: names file, field and reason."""


class ModelError(ArenaError):
    """A model call failed (network, provider, protocol). Retryable when ``retryable``.

    ``error_class`` is an :class:`arena.schemas.calls.ErrorClass` value (``rate_limit``,
    ``server``, ``timeout``, ``connection``, ``auth``, ``bad_request``, ``malformed``...);
    ``retry_after_s`` is the provider's Retry-After, when it sent one."""

    def __init__(self, message: str, *, retryable: bool = True, error_class: str | None = None,
                 status: int | None = None, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.error_class = error_class or ("server" if retryable else "client")
        self.status = status
        self.retry_after_s = retry_after_s
