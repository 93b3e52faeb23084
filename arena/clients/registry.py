"""Model specs (``provider/model`` or ``endpoint/model``) to clients: one registry for every role.

A provider is one module that defines a :class:`Provider` and one registration in the composition
root (``arena/composition.py``); nothing here branches on provider names. An endpoint from the
models file (``[endpoints.NAME]``) is addressed as ``NAME/model`` and says which provider serves it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from arena.config import EndpointConfig, ModelsConfig
from arena.echo import choices, quoted
from arena.errors import UsageError
from arena.protocols import EncounterBound, ModelClient

MAX_SPEC_CHARS = 300
MODEL_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._:/@+-]{0,254}[A-Za-z0-9._:@+-])?")  # always fullmatch


class Provider(Protocol):
    """One kind of model service. ``check`` validates without building (keys, base URL, model);
    ``create`` builds the client. ``http_client`` is for tests (an ``httpx2.AsyncClient`` with a
    ``MockTransport``); providers that make no HTTP calls ignore it."""

    name: str
    summary: str

    def check(self, model: str, endpoint: EndpointConfig) -> None: ...

    def create(self, model: str, endpoint: EndpointConfig, *,
               http_client: Any = None) -> ModelClient | EncounterBound: ...

    def known_models(self) -> list[str]: ...


@dataclass(frozen=True)
class Resolved:
    spec: str
    provider: Provider
    model: str
    endpoint: EndpointConfig


class Registry:
    def __init__(self, providers: Iterable[Provider] = ()) -> None:
        self._providers: dict[str, Provider] = {}
        for provider in providers:
            self.register(provider)

    def register(self, provider: Provider) -> None:
        if provider.name in self._providers:
            raise ValueError(f"provider {provider.name!r} is registered twice")
        self._providers[provider.name] = provider

    def providers(self) -> list[Provider]:
        return list(self._providers.values())

    def names(self) -> list[str]:
        return list(self._providers)

    def resolve(self, spec: str, config: ModelsConfig | None = None) -> Resolved:
        """Which provider and endpoint serve ``spec``; ``UsageError`` naming the valid prefixes."""
        config = config or ModelsConfig()
        if not isinstance(spec, str) or len(spec) > MAX_SPEC_CHARS:
            raise UsageError(f"model spec {quoted(str(spec))} is not valid (at most {MAX_SPEC_CHARS} characters)")
        prefix, slash, model = spec.partition("/")
        valid = choices([*self.names(), *(f"{name} (models file)" for name in config.endpoints
                                          if name not in self._providers)])
        if not slash or not prefix or not model:
            raise UsageError(f"model spec {quoted(spec)} must be provider/model; valid providers: {valid}")
        endpoint = config.endpoint(prefix)
        if endpoint is None:
            if prefix not in self._providers:
                raise UsageError(f"unknown model spec {quoted(spec)} (provider {quoted(prefix)}); "
                                 f"valid providers: {valid}")
            endpoint = EndpointConfig(name=prefix, provider=prefix)  # type: ignore[arg-type]
        if prefix in self._providers and endpoint.provider != prefix:
            raise UsageError(f"models file: endpoint {quoted(prefix)} is named like a provider but says provider "
                             f"{quoted(endpoint.provider)}; give it another name, or provider = {quoted(prefix)}")
        provider = self._providers.get(endpoint.provider)
        if provider is None:
            raise UsageError(f"endpoint {quoted(prefix)} names provider {quoted(endpoint.provider)}, which is "
                             f"not available; valid: {choices(self.names())}")
        price = config.prices.get(spec)
        if price is not None:
            endpoint = endpoint.model_copy(update={"prices": {**endpoint.prices, model: price}})
        return Resolved(spec, provider, model, endpoint)

    def check(self, spec: str, config: ModelsConfig | None = None) -> Resolved:
        resolved = self.resolve(spec, config)
        resolved.provider.check(resolved.model, resolved.endpoint)
        if not MODEL_NAME.fullmatch(resolved.model):
            raise UsageError(f"model name {quoted(resolved.model)} in {quoted(spec)} is not valid; use letters, "
                             "digits and . _ - : / @ +")
        return resolved

    def create(self, spec: str, config: ModelsConfig | None = None, *,
               http_client: Any = None) -> ModelClient | EncounterBound:
        resolved = self.check(spec, config)
        return resolved.provider.create(resolved.model, resolved.endpoint, http_client=http_client)
