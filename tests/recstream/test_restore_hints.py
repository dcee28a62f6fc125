"""Savepoint restore failures name the operator and the migration step."""
from __future__ import annotations

import re
from pathlib import Path

from recstream.cluster.restore_hints import KNOWN_OPERATORS, murmur3_128, operator_id, restore_hint

REPO = Path(__file__).resolve().parents[2]
# as Flink 2.3 printed it when a savepoint of a model.runner=udf job was restored into a runner=fold job
FLINK_ERROR = ("java.lang.IllegalStateException: Failed to rollback to checkpoint/savepoint file:/tmp/sp/savepoint-18caa9"
               "-17663d44d407. Cannot map checkpoint/savepoint state for operator 621d43b1319572e6d4eb78e8b466593e "
               "to the new program, because the operator is not available in the new program. If you want to allow "
               "to skip this, you can set the --allowNonRestoredState option on the CLI.")


def test_operator_id_is_flinks_hash_of_the_uid():
    # the id in FLINK_ERROR is the drift step's uid, hashed by Flink itself
    assert operator_id("interest-drift-buckets") == "621d43b1319572e6d4eb78e8b466593e"


def test_murmur3_reference_vectors():
    # MurmurHash3_x64_128, seed 0: h1 and h2 of "hello" are 0xcbd8a7b341bd9b02 and 0x5b1e906a48ae1d19,
    # which Guava's asBytes() (and so Flink's operator id) writes little-endian; values as the mmh3 package gives
    assert murmur3_128(b"") == bytes(16)
    assert murmur3_128(b"hello").hex() == "029bbd41b3a7d8cb191dae486a901e5b"
    assert murmur3_128(b"The quick brown fox jumps over the lazy dog").hex() == "6c1b07bc7bbc4be347939ac4a93c437a"
    assert len({murmur3_128(bytes(range(n))) for n in range(40)}) == 40


def test_a_retired_operator_is_named_with_its_migration_step():
    hint = restore_hint("... " + FLINK_ERROR + "\n\tat org.apache.flink...")
    assert "interest-drift-buckets" in hint and "previous interest embedding" in hint
    assert "--set model.runner=udf" in hint and "--allow-non-restored-state" in hint


def test_an_unknown_operator_gets_the_generic_step_and_other_failures_none():
    hint = restore_hint(FLINK_ERROR.replace("621d43b1319572e6d4eb78e8b466593e", "0" * 32))
    assert "0" * 32 in hint and "resume with that version" in hint and "--allow-non-restored-state" in hint
    assert restore_hint("java.lang.OutOfMemoryError: Java heap space") is None


def test_every_stateful_uid_in_the_job_graph_has_a_hint():
    uids = set()
    for path in [*(REPO / "flink_jobs").glob("*.py"), *(REPO / "udfs" / "flink").glob("*.py")]:
        uids |= set(re.findall(r'\.uid\("([^"]+)"\)', path.read_text()))
    stateful = {u for u in uids if "fold" in u or "drift" in u}
    assert stateful and stateful <= set(KNOWN_OPERATORS)
