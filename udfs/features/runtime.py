"""What the per-user fold needs at run time besides ``FeatureParams``, and how it renders
store rows: shared by the Flink operator (``udfs.flink.fold``) and the backfill
(``recstream.backfill``) so both write byte-identical rows.

* :class:`FoldOptions`: a plain, picklable, secret-free description built from the
  config (shipped to Flink workers).
* :class:`FoldRuntime`: opened from the options in each worker (``open()``) or in the
  backfill process: the anomaly population baseline, the item embeddings table, the
  pseudonymiser (its key is read here, never shipped) and the persisted-field allow-list.
  It is also the ``ctx`` argument of ``UserState.apply_event``.

Population baseline (``features.anomaly.population``):

* ``frozen`` (default): read from ``features.anomaly.population_file`` (written by
  ``recstream backfill --population-out``), or the configured prior when no file is
  given. It never changes while the job runs, so the stream, a restart and a backfill
  agree exactly.
* ``learn``: each fold subtask learns the baseline from the completed buckets of the
  users it folds, in memory (PyFlink has no operator state for Python functions: after a
  restart it starts again from the prior). Results then depend on how users' events
  interleave, so they differ between stream and backfill (population z only).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import orjson

from udfs.features.anomaly import AnomalyParams, PopulationStats
from udfs.features.params import FeatureParams
from udfs.privacy import FieldAllowList, Pseudonymizer


@dataclass(frozen=True)
class FoldOptions:
    emit_items: bool = False  # emit (item, time, type, excluded, category) records for the item features
    population_mode: str = "frozen"  # frozen | learn
    population_file: str | None = None
    embeddings_path: str | None = None
    pseudonymize: dict | None = None  # {key_env, key_file, digest_chars}: no key material
    persist_fields: tuple | None = None

    @classmethod
    def from_config(cls, cfg) -> "FoldOptions":
        """From a ``RecstreamConfig`` (paths made absolute: workers may run elsewhere)."""
        f, priv = cfg.features, cfg.privacy
        pf = f.anomaly.population_file
        emb = f.content.embeddings_path if f.content.active() else None
        ps = None
        if priv.pseudonymize:
            ps = {"key_env": priv.key_env, "key_file": str(Path(priv.key_file).resolve()) if priv.key_file else None,
                  "digest_chars": priv.digest_chars}
        return cls(
            emit_items=bool(f.items.enabled),
            population_mode=f.anomaly.population,
            population_file=str(Path(pf).resolve()) if pf else None,
            embeddings_path=str(Path(emb).resolve()) if emb else None,
            pseudonymize=ps,
            persist_fields=tuple(priv.persist_fields) if priv.persist_fields is not None else None,
        )


def save_population(stats: PopulationStats, path: str | Path) -> Path:
    """Write a population baseline (JSON) for ``features.anomaly.population_file``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    half_life_ms = math.log(2.0) / stats.k
    path.write_text(json.dumps({"half_life_ms": round(half_life_ms), "w": stats.w, "mean": stats.mean,
                                "m2": stats.m2, "ref": stats.ref}, indent=2) + "\n")
    return path


def load_population(path: str | Path, p: AnomalyParams) -> PopulationStats:
    """A frozen baseline from a file written by :func:`save_population`."""
    d = json.loads(Path(path).read_text())
    if int(d["half_life_ms"]) != p.population_half_life_ms:
        raise ValueError(f"{path}: population half-life {d['half_life_ms']} ms != "
                         f"features.anomaly.population_half_life_h ({p.population_half_life_ms} ms)")
    s = PopulationStats.for_params(p)
    s.w, s.mean, s.m2, s.ref = float(d["w"]), float(d["mean"]), float(d["m2"]), d["ref"]
    return s.freeze()


class FoldRuntime:
    """Opened per worker / backfill from :class:`FoldOptions` (see the module docstring)."""

    def __init__(self, options: FoldOptions, params: FeatureParams) -> None:
        self.options = options
        self.population = None  # None: the prior
        if params.anomaly_on:
            if options.population_mode == "learn":
                self.population = PopulationStats.for_params(params.anomaly)
            elif options.population_file:
                self.population = load_population(options.population_file, params.anomaly)
        self.embeddings = None
        if options.embeddings_path and (params.content_on or options.emit_items):
            from udfs.features.embeddings import EmbeddingTable

            self.embeddings = EmbeddingTable.load(options.embeddings_path)
        self.pseudonymizer = None
        if options.pseudonymize:
            from udfs.privacy import load_key

            ps = options.pseudonymize
            self.pseudonymizer = Pseudonymizer(load_key(ps["key_env"], ps["key_file"]), ps["digest_chars"])
        self.allow = FieldAllowList(options.persist_fields)

    # --- what is stored -------------------------------------------------------------------------
    def user_key(self, user_id: str) -> str:
        """The id rows are stored under: the pseudonym when pseudonymisation is on."""
        return self.pseudonymizer(user_id) if self.pseudonymizer is not None else user_id

    # orjson: a fifth of json.dumps' time on a feature row (bench/fold_cost_bench.py). The text is
    # compact UTF-8 JSON; numbers read back to the same values as json.dumps' (shortest round-trip
    # floats, e.g. 1e-7 for json's 1e-07), and a non-finite float would be null.
    def features_json(self, state, params: FeatureParams) -> str:
        return orjson.dumps(self.allow.filter(state.features(params))).decode()

    @staticmethod
    def sequence_json(state) -> str:
        return orjson.dumps(state.sequence_snapshot()).decode()

    def dead_raw(self, raw: str) -> str:
        """A payload for the dead-letter log (user id pseudonymised when that is on)."""
        return self.pseudonymizer.payload(raw) if self.pseudonymizer is not None else raw

    def ambiguous_reason(self, key: str, parsed: str) -> str:
        if self.pseudonymizer is not None:
            return "ambiguous user_id: routing key and parsed user_id differ (ids withheld: pseudonymisation on)"
        return f"ambiguous user_id: routed as {key!r}, parsed as {parsed!r}"
