"""What to do when a savepoint does not fit the job: name the operator and the migration step.

Flink refuses a savepoint that holds state for an operator the new job graph lacks, naming only
the operator's id ("Cannot map checkpoint/savepoint state for operator 621d43b1…"). recstream sets
a uid on every stateful operator, and an operator's id is the 128-bit Murmur3 hash of its uid
(Flink's ``StreamGraphHasherV2.generateUserSpecifiedHash``: Guava ``murmur3_128(0)`` over the
UTF-8 bytes), so the id can be mapped back to a uid that recstream uses or used, and the error can
say what the state held and how to migrate.
"""
from __future__ import annotations

import re

_M = (1 << 64) - 1
_C1, _C2 = 0x87C37B91114253D5, 0x4CF5AD432745937F

# uid → (what its state holds, how to restore a savepoint that has it into a job that lacks it)
KNOWN_OPERATORS: dict[str, tuple[str, str]] = {
    "interest-drift-buckets": (
        "each user's previous interest embedding, kept by the drift step of the scoring UDF (model.runner=udf); "
        "the default runner (model.runner=fold) keeps it in the fold instead",
        "restore with `--set model.runner=udf` to keep it, or add `--allow-non-restored-state` to drop it "
        "(each user's next score then has no drift: its previous embedding starts afresh)"),
    "fold-user-buckets": (
        "every user's state (windows, decayed interest, last-N sequence), in user buckets",
        "the job must have the user fold: restore with the feature job (flink_jobs.cluster_entry or "
        "flink_jobs.kafka_job)"),
    "fold-user-state": (
        "every user's state in the per-user layout of versions before the bucketed fold",
        "no in-place migration: rebuild the state by a backfill (`recstream backfill`) and start the job "
        "without the savepoint, or add `--allow-non-restored-state` to start every user afresh"),
    "fold-item-buckets": (
        "every item's state (windows, popularity), in item buckets",
        "restore with the item path on (`features.items.enabled=true`), or add `--allow-non-restored-state` "
        "to start every item afresh"),
}


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _M


def _fmix(k: int) -> int:
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & _M
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & _M
    return k ^ (k >> 33)


def murmur3_128(data: bytes, seed: int = 0) -> bytes:
    """MurmurHash3 x64 128-bit, as Guava's ``Hashing.murmur3_128(seed).hashBytes(data).asBytes()``."""
    h1 = h2 = seed
    n = len(data)
    end = n - n % 16
    for i in range(0, end, 16):
        k1 = int.from_bytes(data[i:i + 8], "little")
        k2 = int.from_bytes(data[i + 8:i + 16], "little")
        h1 ^= (_rotl((k1 * _C1) & _M, 31) * _C2) & _M
        h1 = (((_rotl(h1, 27) + h2) & _M) * 5 + 0x52DCE729) & _M
        h2 ^= (_rotl((k2 * _C2) & _M, 33) * _C1) & _M
        h2 = (((_rotl(h2, 31) + h1) & _M) * 5 + 0x38495AB5) & _M
    tail = data[end:]
    if len(tail) > 8:
        h2 ^= (_rotl((int.from_bytes(tail[8:], "little") * _C2) & _M, 33) * _C1) & _M
    if tail:
        h1 ^= (_rotl((int.from_bytes(tail[:8], "little") * _C1) & _M, 31) * _C2) & _M
    h1 ^= n
    h2 ^= n
    h1 = (h1 + h2) & _M
    h2 = (h2 + h1) & _M
    h1, h2 = _fmix(h1), _fmix(h2)
    h1 = (h1 + h2) & _M
    h2 = (h2 + h1) & _M
    return h1.to_bytes(8, "little") + h2.to_bytes(8, "little")


def operator_id(uid: str) -> str:
    """The operator id Flink derives from ``uid`` (hex, as its messages print it)."""
    return murmur3_128(uid.encode("utf-8")).hex()


_UNMAPPED = re.compile(r"Cannot map checkpoint/savepoint state for operator ([0-9a-f]{32})")


def restore_hint(flink_output: str) -> str | None:
    """For a failed restore in ``flink_output`` (the client's log): which operator's state the job
    lacks and the migration step; None when the output shows no such failure."""
    match = _UNMAPPED.search(flink_output)
    if match is None:
        return None
    op = match.group(1)
    by_id = {operator_id(uid): uid for uid in KNOWN_OPERATORS}
    uid = by_id.get(op)
    if uid is None:
        return (f"the savepoint holds state of operator {op}, which this job does not have and which is none of "
                "recstream's stateful operators (probably a Flink SQL operator of the version that took the "
                "savepoint, holding events of unfinished micro-batches): resume with that version, or add "
                "`--allow-non-restored-state`, which loses those events.")
    held, step = KNOWN_OPERATORS[uid]
    return f"the savepoint holds state of operator '{uid}' ({held}), which this job does not have: {step}."
