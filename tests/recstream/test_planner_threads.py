"""A planner call that py4j sends down a JVM thread other than the one that built the planner
(another Python thread held the connection) must not fail with Calcite's
``NullPointerException: metadataHandlerProvider`` (FLINK-36298, open in Flink 2.3.0):
``create_environments`` installs ``recstream.flink_env.guard_planner_threads``."""
from __future__ import annotations

import threading
import time

import pytest

pytestmark = pytest.mark.flink


def test_planner_call_on_a_fresh_gateway_thread_succeeds():
    from pyflink.common import Types
    from pyflink.java_gateway import get_gateway

    from flink_jobs.environment import create_environments
    from recstream.config import load_config

    env, t_env = create_environments(load_config([], []))
    ds = env.from_collection([("a", 1), ("b", 2)], type_info=Types.ROW([Types.STRING(), Types.INT()]))
    t_env.create_temporary_view("v", t_env.from_data_stream(ds))
    table = t_env.sql_query("SELECT f0, SUM(f1) AS s FROM v GROUP BY f0")
    gw = get_gateway()
    threads_before = len(gw._gateway_client.deque)
    # another Python thread holds every idle connection, so the planner call below goes out on a
    # new one, served by a new JVM thread (without the guard: NullPointerException: metadataHandlerProvider)
    holders = [threading.Thread(target=lambda: gw.jvm.java.lang.Thread.sleep(3000)) for _ in range(threads_before)]
    for h in holders:
        h.start()
    time.sleep(0.5)
    assert len(gw._gateway_client.deque) == 0
    try:
        stream = t_env.to_changelog_stream(table)
    finally:
        for h in holders:
            h.join()
    assert stream is not None
