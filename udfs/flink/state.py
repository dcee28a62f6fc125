"""Keyed-state helpers shared by the job's bucketed Python operators: the TTL setting, a
bucket's ``MapState`` seen as a mapping, and the guard that keeps a restore from changing
the bucket count."""
from __future__ import annotations

from pyflink.common import Types
from pyflink.common.time import Time
from pyflink.datastream.state import StateTtlConfig, ValueStateDescriptor


def expire_after_write(descriptor, ttl_ms: int):
    """Give ``descriptor`` a TTL of ``ttl_ms`` counted from each entry's last write (per map key for a
    ``MapStateDescriptor``); expired entries are never returned. Returns the descriptor."""
    descriptor.enable_time_to_live(
        StateTtlConfig.new_builder(Time.milliseconds(ttl_ms))
        .set_update_type(StateTtlConfig.UpdateType.OnCreateAndWrite)
        .set_state_visibility(StateTtlConfig.StateVisibility.NeverReturnExpired)
        .build())
    return descriptor


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
