"""The models file (TOML): named endpoints with base URL, key variable, vision, image limits,
concurrency, timeouts, retries, generation parameters and prices.

```toml
[endpoints.local]                       # use as  local/<model>
provider = "openai-compatible"          # openai | anthropic | openai-compatible
base_url = "http://127.0.0.1:8080/v1"
api_key_env = "LOCAL_KEY"               # optional; the key itself never goes in the file
vision = false                          # images become "[image not shown: text-only model]"
max_image_side = 1568                   # long side in pixels; larger images are downsized
max_image_bytes = 3_750_000
concurrency = 2
timeout_s = 120
max_retries = 3
params = { temperature = 0.2, max_tokens = 512 }

[prices."openai/gpt-4o"]                # US dollars per million tokens; overrides the built-in table
input_per_mtok = 2.5
output_per_mtok = 10.0
```

Where it is read from: ``--models-file PATH``, else ``$ARENA_MODELS_FILE``, else
``./arena-models.toml``, else ``$XDG_CONFIG_HOME/arena/models.toml`` (``~/.config/...``); no file
at all is fine (built-in defaults). An endpoint named like a provider (``[endpoints.openai]``)
changes that provider's defaults.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError, field_validator

from arena.echo import clip, clip_path
from arena.errors import UsageError
from arena.files import FileRefused, read_regular_file
from arena.schemas.base import Record

MAX_MODELS_FILE_BYTES = 1_000_000
ProviderName = Literal["openai", "anthropic", "openai-compatible", "reference"]
BASE_URL_VARIABLE = "OPENAI_COMPATIBLE_BASE_URL"
ENDPOINT_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")  # always fullmatch


class Strict(Record):
    """TOML has real types: a string where a number or a boolean belongs is refused, not coerced."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


class GenerationParams(Strict):
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=200_000)
    top_p: float | None = Field(default=None, gt=0, le=1)


class PriceEntry(Strict):
    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)


class EndpointConfig(Strict):
    """One endpoint. ``name`` is the spec prefix (``name/model``)."""

    name: str = ""
    provider: ProviderName
    base_url: str | None = Field(default=None, max_length=2000)
    api_key_env: str | None = Field(default=None, max_length=128)
    vision: bool | None = None
    max_image_side: int | None = Field(default=None, ge=64, le=16384)
    max_image_bytes: int | None = Field(default=None, ge=10_000, le=100_000_000)
    concurrency: int = Field(default=4, ge=1, le=1024)
    timeout_s: float = Field(default=120.0, gt=0, le=3600)
    connect_timeout_s: float = Field(default=10.0, gt=0, le=600)
    max_retries: int = Field(default=2, ge=0, le=10)
    backoff_s: float = Field(default=0.5, ge=0, le=60)
    cache: bool = True
    structured_output: Literal["json_schema", "json_object"] = Field(
        default="json_schema",
        description="How a JSON schema is asked of an OpenAI-compatible server: response_format type "
                    "json_schema (OpenAI, vLLM), or json_object with the schema (llama.cpp's server)")
    params: GenerationParams = Field(default_factory=GenerationParams)
    prices: dict[str, PriceEntry] = Field(default_factory=dict, description="By model name")

    @field_validator("api_key_env")
    @classmethod
    def _variable_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", value):
            raise ValueError("must be the name of the environment variable that holds the key (letters, digits "
                             "and _), never the key itself")
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value


class ModelsConfig(Strict):
    endpoints: dict[str, EndpointConfig] = Field(default_factory=dict)
    prices: dict[str, PriceEntry] = Field(default_factory=dict, description="By spec provider/model")
    source: str | None = Field(default=None, exclude=True)

    def endpoint(self, name: str, provider: ProviderName | None = None) -> EndpointConfig | None:
        found = self.endpoints.get(name)
        if found is not None:
            return found.model_copy(update={"name": name})
        if provider is None:
            return None
        return EndpointConfig(name=name, provider=provider)


def default_models_file(cwd: Path | None = None) -> Path | None:
    """The models file in effect when ``--models-file`` is not given (``None``: no file)."""
    named = os.environ.get("ARENA_MODELS_FILE")
    if named:
        return Path(named)
    local = (cwd or Path.cwd()) / "arena-models.toml"
    if local.is_file():
        return local
    home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    user = home / "arena" / "models.toml"
    return user if user.is_file() else None


def read_toml(path: Path, *, what: str, limit: int) -> dict[str, Any]:
    """A TOML file's table; a one-line ``UsageError`` starting with ``what`` and the path otherwise."""
    where = clip_path(path)
    try:
        return tomllib.loads(read_regular_file(path, limit=limit).decode("utf-8"))
    except FileRefused as exc:
        raise UsageError(f"{what} {where}: {exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{what} {where}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{what} {where}: not valid TOML ({clip(str(exc), 200)})") from None


def load_models_config(path: Path | None, *, explicit: bool = False) -> ModelsConfig:
    """Read and validate the models file; one-line ``UsageError`` naming file, field and reason."""
    if path is None:
        return ModelsConfig()
    where = clip_path(path)
    if not path.exists():
        hint = "--models-file" if explicit else "ARENA_MODELS_FILE"
        raise UsageError(f"{hint} {where}: no such file")
    data = read_toml(path, what="models file", limit=MAX_MODELS_FILE_BYTES)
    try:
        config = ModelsConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise UsageError(f"models file {where}: {clip(field, 120)}: {clip(first['msg'], 200)}"
                         + (f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else "")
                         ) from None
    for name in config.endpoints:
        if not ENDPOINT_NAME.fullmatch(name):
            raise UsageError(f"models file {where}: endpoint name {clip(repr(name), 80)} is not valid; use "
                             "1-64 lower-case letters, digits, '.', '_' or '-'")
    return config.model_copy(update={"source": str(path)})
