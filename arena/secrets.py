"""API keys: read only from the environment, never stored, and scrubbed from every message.

A key is read at the moment a provider client is built (from the variable the provider or the
models file names) and handed to the SDK; the arena keeps the variable's *name*. Every text the
arena records or prints about a failure passes :func:`redact`, which replaces the value of every
key-like environment variable (and of each variable named by a provider) with ``***``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_KEY_LIKE = re.compile(r"(?:API_KEY|_KEY|_TOKEN|_SECRET|PASSWORD)\Z", re.I)
_named: set[str] = set()
MIN_SECRET_CHARS = 6  # shorter values would redact ordinary words
PLACEHOLDER_KEY = "no-call-replay"  # the key a client gets when it is built only to read its traits
_placeholder: ContextVar[bool] = ContextVar("placeholder_keys", default=False)


@contextmanager
def placeholder_keys() -> Iterator[None]:
    """Within: a missing key reads as :data:`PLACEHOLDER_KEY`, for clients built only to read their
    traits (``arena rerun`` replays recorded responses and never calls them)."""
    token = _placeholder.set(True)
    try:
        yield
    finally:
        _placeholder.reset(token)


def register_key_variable(name: str) -> None:
    """Remember that ``name`` holds a secret, whatever it is called."""
    _named.add(name)


def secret_values() -> list[str]:
    values = {os.environ.get(name, "") for name in _named}
    values.update(value for name, value in os.environ.items() if _KEY_LIKE.search(name))
    return sorted((v for v in values if len(v) >= MIN_SECRET_CHARS), key=len, reverse=True)


def redact(text: str) -> str:
    """``text`` with every secret value replaced by ``***`` (also inside longer strings)."""
    for value in secret_values():
        if value in text:
            text = text.replace(value, "***")
    return text


def read_key(variable: str) -> str | None:
    register_key_variable(variable)
    value = os.environ.get(variable)
    if not value and _placeholder.get():
        return PLACEHOLDER_KEY
    return value if value else None
