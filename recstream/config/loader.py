"""Merge YAML layers and ``key.path=value`` overrides into a validated config."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import yaml
from pydantic import ValidationError

from recstream.config.models import RecstreamConfig


class ConfigError(ValueError):
    """A config file or override is unreadable or does not validate."""


# Keys that were renamed or moved: an old config file or --set that still uses one fails naming the new
# key, rather than a generic "extra inputs" error or, worse, a silent default. A section entry (the old
# key of a whole section) maps every key under it.
RENAMED: dict[str, str] = {
    # one checkpoint / restart section for local runs and cluster jobs (docs/configuration.md)
    "job.checkpoint_interval_ms": "checkpoint.interval_ms",
    "job.checkpoint_dir": "checkpoint.dir",
    "job.restart_attempts": "restart.attempts",
    "cluster.checkpoint": "checkpoint",
    "cluster.restart": "restart",
    # "buckets" are hash buckets (job.user_buckets, features.items.buckets); time buckets got own names
    "features.buckets_per_window": "features.tiles_per_window",
    "features.items.buckets_per_window": "features.items.tiles_per_window",
    "features.anomaly.bucket_s": "features.anomaly.rate_interval_s",
    "features.anomaly.min_own_buckets": "features.anomaly.min_own_intervals",
    # the decayed interest's keys, apart from features.interactions.* (user x category interactions)
    "features.half_life_short_h": "features.interest.half_life_short_h",
    "features.half_life_long_h": "features.interest.half_life_long_h",
    "features.max_categories": "features.interest.max_categories",
    "features.top_categories": "features.interest.top_categories",
    "features.event_weights": "features.interest.event_weights",
    "features.rating_weight": "features.interest.rating_weight",
}
SECTIONS_RENAMED = {"cluster.checkpoint", "cluster.restart"}
_BOTH = "it now applies to local runs and jobs on a cluster alike"
RENAME_NOTES = {
    "job.checkpoint_interval_ms": f"{_BOTH}; unset it is 0 in a local run, 10000 on a cluster",
    "job.checkpoint_dir": _BOTH,
    "job.restart_attempts": f"{_BOTH}; unset it is 0 in a local run, 3 on a cluster",
    "cluster.checkpoint": _BOTH,
    "cluster.restart": _BOTH,
}

# Keys that were removed because nothing the product runs read them: setting one changed nothing.
REMOVED: dict[str, str] = {
    "features.items.trending_min_events": (
        "no part of the job, backfill or reader read it (only rank_items(by='trending'), which the product "
        "never calls); the trending feature is stored for every item"),
}


def old_keys(data: dict, prefix: str = "") -> list[str]:
    """One line per renamed or removed key in a layer (file or override), in the layer's order."""
    out = []
    for k, v in data.items():
        key = f"{prefix}{k}"
        if key in REMOVED:
            out.append(f"{key} was removed: {REMOVED[key]}")
        elif key in RENAMED:
            note = f" ({RENAME_NOTES[key]})" if key in RENAME_NOTES else ""
            if key in SECTIONS_RENAMED and isinstance(v, dict) and v:
                out += [f"{key}.{sub} was renamed: use {RENAMED[key]}.{sub}{note}" for sub in v]
            else:
                out.append(f"{key} was renamed: use {RENAMED[key]}{note}")
        elif isinstance(v, dict):
            out += old_keys(v, key + ".")
    return out


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
    old: list[str] = []
    for f in files:
        layer = _read_yaml(Path(f))
        old += [f"  {f}: {line}" for line in old_keys(layer)]
        data = _deep_merge(data, layer)
    for o in overrides:
        layer = parse_override(o)
        old += [f"  --set {o}: {line}" for line in old_keys(layer)]
        data = _deep_merge(data, layer)
    if old:
        raise ConfigError("configuration uses old keys:\n" + "\n".join(old))
    try:
        return RecstreamConfig.model_validate(data)
    except ValidationError as exc:
        lines = [f"  {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError("invalid configuration:\n" + "\n".join(lines)) from None
