"""Merge YAML layers and ``key.path=value`` overrides into a validated config."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import yaml
from pydantic import ValidationError

from recstream.config.models import RecstreamConfig


class ConfigError(ValueError):
    """A config file or override is unreadable or does not validate."""


def _deep_merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at top level, got {type(data).__name__}")
    return data


def parse_override(text: str) -> dict:
    """``'job.parallelism=2'`` -> ``{'job': {'parallelism': 2}}`` (value parsed as YAML)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like section.key=value")
    key, raw = text.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"override {text!r} has an empty key")
    try:
        value: Any = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    for p in reversed(parts):
        value = {p: value}
    return value


def load_config(files: Iterable[str | Path] = (), overrides: Iterable[str] = ()) -> RecstreamConfig:
    data: dict = {}
    for f in files:
        data = _deep_merge(data, _read_yaml(Path(f)))
    for o in overrides:
        data = _deep_merge(data, parse_override(o))
    try:
        return RecstreamConfig.model_validate(data)
    except ValidationError as exc:
        lines = [f"  {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError("invalid configuration:\n" + "\n".join(lines)) from None
