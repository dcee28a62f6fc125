"""Which cluster a command addresses: the one ``recstream cluster start`` started, unless it names one.

``cluster start`` records the effective ``cluster`` section, with the ``checkpoint`` and ``restart``
sections whose keys are the cluster's job defaults, in ``<cluster.home>/recstream-cluster.yaml`` and points ``<job.work_dir>/current-cluster`` (one line: that home) at it. A later command without
``cluster.*`` settings follows the pointer and loads the record as a config layer under its own
``--config`` / ``--set`` (packaged defaults < record < files < overrides). A command that gives any
``cluster.*`` key does not follow the pointer; with ``cluster.home`` it still gets that home's record
(so ``--set cluster.home=DIR`` alone finds the ports the cluster there was started with).
``cluster stop`` removes the record and, when it points at that home, the pointer.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import yaml

from recstream.config import RecstreamConfig, load_config
from recstream.config.loader import parse_override

RECORD = "recstream-cluster.yaml"
POINTER = "current-cluster"


@dataclass(frozen=True)
class Target:
    """The resolved config and where its ``cluster`` section came from."""
    cfg: RecstreamConfig
    source: str  # started (the record) | given (--config/--set, no record) | default (neither)
    record: Path | None

    @property
    def home(self) -> Path:
        return self.cfg.cluster.home.resolve()

    @property
    def rest(self) -> str:
        return f"http://127.0.0.1:{self.cfg.cluster.rest_port}"

    def describe(self) -> str:
        how = {"started": f"as `recstream cluster start` recorded it in {self.record}",
               "given": "from --config/--set",
               "default": "default settings: no `recstream cluster start` recorded"}[self.source]
        return f"cluster {self.home} (REST {self.rest}), {how}"


def pointer_path(cfg: RecstreamConfig) -> Path:
    return cfg.job.work_dir / POINTER


def given_cluster_keys(files: Iterable[str | Path] = (), overrides: Iterable[str] = ()) -> set[str]:
    """The ``cluster.*`` keys (first level) the user's files and overrides set."""
    keys: set[str] = set()
    for f in files:
        data = yaml.safe_load(Path(f).read_text()) or {}
        keys |= set((data.get("cluster") or {}) if isinstance(data, dict) else ())
    for o in overrides:
        keys |= set(parse_override(o).get("cluster") or {})
    return keys


RECORDED = ("cluster", "checkpoint", "restart")


def _record_text(sections: dict) -> str:
    return ("# Written by `recstream cluster start`: the cluster other cluster commands address.\n"
            + yaml.safe_dump(sections, sort_keys=False))


def remember(cfg: RecstreamConfig) -> Path:
    """Record a started cluster's effective sections in its home and point the work dir at it."""
    home = cfg.cluster.home.resolve()
    sections = {name: getattr(cfg, name).model_dump(mode="json") for name in RECORDED}
    sections["cluster"]["home"] = str(home)
    record = home / RECORD
    record.write_text(_record_text(sections))
    pointer = pointer_path(cfg)
    pointer.parent.mkdir(parents=True, exist_ok=True)
    pointer.write_text(f"{home}\n")
    return record


def forget(target: Target) -> None:
    """After a stop: drop the record, and the pointer when it names this home."""
    (target.home / RECORD).unlink(missing_ok=True)
    pointer = pointer_path(target.cfg)
    if pointer.is_file() and Path(pointer.read_text().strip()) == target.home:
        pointer.unlink()


def upgrade_record(record: Path) -> None:
    """A record written before the checkpoint and restart keys left the ``cluster`` section (it held
    ``cluster.checkpoint`` / ``cluster.restart``) is rewritten with them as ``checkpoint`` / ``restart``:
    the record is recstream's own file, so it is moved on rather than refused like a user's old key."""
    data = yaml.safe_load(record.read_text()) or {}
    cluster = data.get("cluster") if isinstance(data, dict) else None
    if not isinstance(cluster, dict) or not ({"checkpoint", "restart"} & set(cluster)):
        return
    for name in ("checkpoint", "restart"):
        if name in cluster:
            data[name] = {**cluster.pop(name), **(data.get(name) or {})}
    record.write_text(_record_text(data))


def resolve(files: Iterable[str | Path] = (), overrides: Iterable[str] = ()) -> Target:
    """The config a cluster command runs with (raises ``ConfigError`` like ``load_config``)."""
    files, overrides = list(files), list(overrides)
    cfg = load_config(files, overrides)
    given = given_cluster_keys(files, overrides)
    home = cfg.cluster.home.resolve()
    if not given:
        pointer = pointer_path(cfg)
        if pointer.is_file() and pointer.read_text().strip():
            home = Path(pointer.read_text().strip())
    record = home / RECORD
    if record.is_file():
        upgrade_record(record)
        return Target(load_config([record, *files], overrides), "started", record)
    return Target(cfg, "given" if given else "default", None)
