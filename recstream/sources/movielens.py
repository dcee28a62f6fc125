"""MovieLens loader for the ML-100K file layout (``u.data`` + ``u.item``).

Every rating becomes a ``rating`` event at its real timestamp; the movie's genres
become the item's category (the first genre) and tags (all genres).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
]


class MovieLensError(ValueError):
    """The MovieLens directory is missing files or has lines in the wrong layout."""


# the data set may not be redistributed, so a fresh clone has none: say how to get it
HOW_TO_GET = ("get ML-100K with `recstream data fetch-movielens` (or unpack "
              "https://files.grouplens.org/datasets/movielens/ml-100k.zip yourself) and set source.movielens.path")


def load_genres(path: Path) -> dict[str, list[str]]:
    item_file = path / "u.item"
    if not item_file.exists():
        raise MovieLensError(f"{item_file} not found (expected the ML-100K u.item file); {HOW_TO_GET}")
    genres = {}
    with item_file.open(encoding="latin-1") as fh:
        for n, line in enumerate(fh, 1):
            parts = line.rstrip("\n").split("|")
            if len(parts) < 5 + len(GENRES):
                raise MovieLensError(f"{item_file}:{n}: expected {5 + len(GENRES)} '|' fields, got {len(parts)}")
            flags = parts[-len(GENRES):]
            genres[parts[0]] = [g for g, f in zip(GENRES, flags) if f == "1"] or ["unknown"]
    return genres


def load_events(path: str | Path) -> list[dict]:
    """All ratings as events, sorted by event time (ties keep file order)."""
    path = Path(path)
    data_file = path / "u.data"
    if not data_file.exists():
        raise MovieLensError(f"{data_file} not found (expected the ML-100K u.data file: user, item, rating, "
                             f"timestamp); {HOW_TO_GET}")
    genres = load_genres(path)
    events = []
    with data_file.open() as fh:
        for n, line in enumerate(fh, 1):
            parts = line.split()
            if len(parts) != 4:
                raise MovieLensError(f"{data_file}:{n}: expected 4 fields (user item rating timestamp), got {len(parts)}")
            user, item, rating, ts = parts
            g = genres.get(item, ["unknown"])
            events.append({
                "event_id": f"ml-{n}",
                "user_id": user,
                "item_id": item,
                "event_type": "rating",
                "event_time": int(ts) * 1000,
                "rating": float(rating),
                "category": g[0],
                "tags": g,
            })
    events.sort(key=lambda e: e["event_time"])
    return events


def replay_lines(path: str | Path, repeat: int = 1) -> Iterator[str]:
    """Raw payloads in event-time order; ``repeat`` > 1 replays the data again shifted
    forward in time (for throughput benchmarks on a longer stream)."""
    events = load_events(path)
    span = events[-1]["event_time"] - events[0]["event_time"] + 86_400_000
    for r in range(repeat):
        for e in events:
            if r:
                e = {**e, "event_id": f"{e['event_id']}-r{r}", "event_time": e["event_time"] + r * span}
            yield json.dumps(e, separators=(",", ":"))
