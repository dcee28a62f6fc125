"""Keyed-state helpers shared by the job's bucketed Python operators: the TTL setting and the
sweep that removes expired entries, a bucket's ``MapState`` seen as a mapping, and the guard
that keeps a restore from changing the bucket count."""
from __future__ import annotations

import time

from pyflink.common import Types
from pyflink.common.time import Time
from pyflink.datastream.state import StateTtlConfig, ValueStateDescriptor


def expire_after_write(descriptor, ttl_ms: int):
    """Give ``descriptor`` a TTL of ``ttl_ms`` counted from each entry's last write (per map key for a
    ``MapStateDescriptor``); expired entries are never returned. Returns the descriptor.

    Flink's default background cleanup on the heap backend checks a few state *keys* for expiry on
    every state access. Here a key is a whole bucket, its value a map of tens of thousands of users,
    so every ``get`` and ``put`` walked whole buckets, and more so as they filled: at 1M users the
    job ran at 5,015 events/s with it and 7,239 without (bench/README.md). Expired entries are
    removed instead by RocksDB's compaction filter, left out of full snapshots, and on the heap
    backend by :class:`ExpirySweep`. The cleanup strategy is not part of the state's serializer, so
    savepoints taken with the default cleanup restore unchanged."""
    descriptor.enable_time_to_live(
        StateTtlConfig.new_builder(Time.milliseconds(ttl_ms))
        .set_update_type(StateTtlConfig.UpdateType.OnCreateAndWrite)
        .set_state_visibility(StateTtlConfig.StateVisibility.NeverReturnExpired)
        .disable_cleanup_in_background()
        .cleanup_full_snapshot()
        .cleanup_in_rocksdb_compact_filter(1000)
        .build())
    return descriptor


class ExpirySweep:
    """Removes a bucket's expired map-state entries on the heap backend, now and then.

    Flink's TTL map state removes an expired entry when an iterator passes over it, so walking a
    bucket's keys is the sweep: its cost is one Python step per live entry (measured in
    bench/README.md), paid once per ``interval_s`` per bucket instead of on every access. The
    interval is a tenth of the TTL, at least 0.1 s and at most an hour, so an entry stays at most
    that long past its expiry. Buckets are first due at staggered times so that a subtask's buckets
    are not all swept in the same second. ``run`` returns the live entries of the first state;
    ``maybe_run`` sweeps when due and sets ``gauge`` (e.g. ``users_in_state``) to the live entries
    over all buckets."""

    MAX_INTERVAL_S = 3600.0
    MIN_INTERVAL_S = 0.1

    def __init__(self, ttl_ms: int, buckets: int, clock=time.monotonic, gauge=None) -> None:
        self.gauge = gauge
        self.interval_s = min(max(ttl_ms / 10_000.0, self.MIN_INTERVAL_S), self.MAX_INTERVAL_S)
        self.buckets = max(buckets, 1)
        self.clock = clock
        self.next_due: dict[int, float] = {}
        self.live: dict[int, int] = {}

    def due(self, bucket: int) -> bool:
        now = self.clock()
        due = self.next_due.get(bucket)
        if due is None:
            self.next_due[bucket] = now + self.interval_s * (1.0 + (bucket % self.buckets) / self.buckets)
            return False
        return now >= due

    def run(self, bucket: int, *map_states) -> int:
        """Walk the keys of each of ``map_states`` (the current key's, i.e. this bucket's); return
        the first one's live entries."""
        counts = [sum(1 for _ in (ms.keys() or ())) for ms in map_states]
        self.next_due[bucket] = self.clock() + self.interval_s
        self.live[bucket] = counts[0] if counts else 0
        return self.live[bucket]

    def maybe_run(self, bucket: int, *map_states) -> bool:
        """``run`` if the bucket is due, then the gauge; whether it ran."""
        if not self.due(bucket):
            return False
        self.run(bucket, *map_states)
        if self.gauge is not None:
            self.gauge.set(self.live_total)
        return True

    @property
    def live_total(self) -> int:
        """Live entries over the buckets swept so far, each as of its last sweep."""
        return sum(self.live.values())


class MapStateMapping:
    """A bucket's MapState as the mapping the framework-free folds take (``get`` is None on a
    miss in both execution modes; ``m[key] = value`` puts)."""

    def __init__(self, map_state) -> None:
        self.map_state = map_state
        self.get = map_state.get

    def __setitem__(self, key, value) -> None:
        self.map_state.put(key, value)


class BucketLayoutError(RuntimeError):
    pass


class BucketLayout:
    """The bucket count is part of a bucketed state's layout (an entry lives in its key's bucket):
    a ``ValueState`` per bucket records the count it was written with, and a job restored with
    another count fails with a message naming the setting instead of silently starting afresh."""

    def __init__(self, runtime_context, state_name: str, buckets: int, setting: str) -> None:
        self.state = runtime_context.get_state(ValueStateDescriptor(state_name, Types.INT()))
        self.buckets = buckets
        self.setting = setting
        self.checked: set[int] = set()

    def check(self, bucket: int) -> None:
        if bucket in self.checked:
            return
        stored = self.state.value()
        if stored is None:
            self.state.update(self.buckets)
        elif stored != self.buckets:
            raise BucketLayoutError(
                f"{self.setting} is {self.buckets} but the restored state was written with {stored} buckets: "
                f"states live in their bucket, so the count cannot change on a restore; set "
                f"{self.setting}={stored} or start without the savepoint (docs/cluster.md, upgrades)")
        self.checked.add(bucket)
