"""Keyed-state settings shared by the job's Python operators."""
from __future__ import annotations

from pyflink.common.time import Time
from pyflink.datastream.state import StateTtlConfig


def expire_after_write(descriptor, ttl_ms: int):
    """Give ``descriptor`` a TTL of ``ttl_ms`` counted from each entry's last write (per map key for a
    ``MapStateDescriptor``); expired entries are never returned. Returns the descriptor."""
    descriptor.enable_time_to_live(
        StateTtlConfig.new_builder(Time.milliseconds(ttl_ms))
        .set_update_type(StateTtlConfig.UpdateType.OnCreateAndWrite)
        .set_state_visibility(StateTtlConfig.StateVisibility.NeverReturnExpired)
        .build())
    return descriptor
