"""Materialise the configured source as a replay file (one raw payload per line)."""
from __future__ import annotations

import json
import shutil
import zlib
from pathlib import Path

from recstream.config import RecstreamConfig


def source_lines(cfg: RecstreamConfig):
    src = cfg.source
    if src.kind == "synthetic":
        from recstream.sources.synthetic import replay_lines

        return replay_lines(src.synthetic.spec())
    if src.kind == "movielens":
        from recstream.sources.movielens import replay_lines

        return replay_lines(src.movielens.path, repeat=src.movielens.repeat)
    raise ValueError(f"source kind {src.kind!r} has no generator (use its file directly)")


def partition_of(line: str, partitions: int) -> int:
    """Partition of a payload by its user id, like a Kafka topic keyed by user (unparsable: 0)."""
    if partitions == 1:
        return 0
    try:
        user = json.loads(line).get("user_id")
    except (ValueError, AttributeError):
        return 0
    return zlib.crc32(str(user).encode("utf-8")) % partitions if user is not None else 0


def write_replay_file(cfg: RecstreamConfig, path: Path, partitions: int = 1) -> int:
    """Write the source's payloads to ``path``; returns the number of lines.

    With ``partitions`` > 1, ``path`` is a directory of that many files split by user id
    (each user's events in one file, in order), so the replay reads in parallel the way a
    keyed Kafka topic would.
    """
    if partitions == 1:
        path.parent.mkdir(parents=True, exist_ok=True)
        files = [path.open("w", encoding="utf-8")]
    else:
        if path.is_dir():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        files = [(path / f"part-{i:05d}.jsonl").open("w", encoding="utf-8") for i in range(partitions)]
    n = 0
    try:
        for line in source_lines(cfg):
            # a payload with a raw newline would split into two records; keep it one (invalid) line
            line = line.replace("\n", "\\n")
            files[partition_of(line, partitions)].write(line + "\n")
            n += 1
    finally:
        for fh in files:
            fh.close()
    return n


def replay_files(path: Path) -> list[Path]:
    """The files of a replay: the file itself, or a directory's ``*.jsonl`` files in name order.

    Only these are read (by the job and by ``backfill``) and counted; other files in the
    directory (a README, ``.`` or ``_`` files as Flink's file source hides them) are ignored.
    """
    path = Path(path)
    if not path.is_dir():
        return [path]
    files = sorted(f for f in path.glob("*.jsonl") if f.is_file() and not f.name.startswith((".", "_")))
    if not files:
        raise FileNotFoundError(f"{path} holds no *.jsonl files")
    return files


def ignored_files(path: Path) -> list[Path]:
    """The files in a replay directory that :func:`replay_files` leaves out (none for a file)."""
    path = Path(path)
    if not path.is_dir():
        return []
    kept = set(replay_files(path))
    return sorted(f for f in path.iterdir() if f.is_file() and f not in kept)


def count_lines(path: Path) -> int:
    """Lines as the job's file source reads them (JSON Lines): ``\\n`` ends a line, a last line
    without one counts too; ``\\r`` never ends a line (a ``\\r`` before ``\\n`` is dropped)."""
    total = 0
    for f in replay_files(path):
        with open(f, "rb") as fh:
            last = b""
            while chunk := fh.read(1 << 20):
                total += chunk.count(b"\n")
                last = chunk[-1:]
            if last not in (b"", b"\n"):
                total += 1  # a last line without a line end
    return total
