"""Materialise the configured source as a replay file (one raw payload per line)."""
from __future__ import annotations

from pathlib import Path

from recstream.config import RecstreamConfig


def source_lines(cfg: RecstreamConfig):
    src = cfg.source
    if src.kind == "synthetic":
        from recstream.sources.synthetic import SyntheticSpec, replay_lines

        s = src.synthetic
        spec = SyntheticSpec(
            seed=s.seed, n_users=s.users, n_items=s.items, n_categories=s.categories, n_events=s.events,
            span_hours=s.span_hours, bot_users=s.bot_users, late_fraction=s.late_fraction,
            malformed_fraction=s.malformed_fraction, max_disorder_ms=s.max_disorder_ms,
        )
        return replay_lines(spec)
    if src.kind == "movielens":
        from recstream.sources.movielens import replay_lines

        return replay_lines(src.movielens.path, repeat=src.movielens.repeat)
    raise ValueError(f"source kind {src.kind!r} has no generator (use its file directly)")


def write_replay_file(cfg: RecstreamConfig, path: Path) -> int:
    """Write the source's payloads to ``path``; returns the number of lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for line in source_lines(cfg):
            # a payload with a raw newline would split into two records; keep it one (invalid) line
            fh.write(line.replace("\n", "\\n") + "\n")
            n += 1
    return n


def count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)
