"""The operators' state TTL in a real Flink job: expired entries are never returned, a sweep of a
bucket walks and counts only its live entries, on the heap and the RocksDB backends alike (the TTL
config the operators use: background cleanup off, snapshot and compaction-filter cleanup on)."""
from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.flink

TTL_MS = 400


def run_ops(ops: list[tuple[int, str, str]], backend: str) -> list[tuple]:
    from pyflink.common import Configuration, Types
    from pyflink.datastream import KeyedProcessFunction, StreamExecutionEnvironment
    from pyflink.datastream.state import MapStateDescriptor

    from udfs.flink.state import ExpirySweep, MapStateMapping, expire_after_write

    class Ops(KeyedProcessFunction):
        """(bucket, op, arg): put a user, wait arg seconds, sweep the bucket, or get a user."""

        def open(self, runtime_context):
            desc = MapStateDescriptor("users", Types.STRING(), Types.PICKLED_BYTE_ARRAY())
            self.users = MapStateMapping(runtime_context.get_map_state(expire_after_write(desc, TTL_MS)))
            self.sweep = ExpirySweep(TTL_MS, 2)

        def process_element(self, value, ctx):
            bucket, op, arg = value
            if op == "put":
                self.users[arg] = {"user": arg}
            elif op == "wait":
                time.sleep(float(arg))
            elif op == "sweep":
                live = self.sweep.run(bucket, self.users.map_state)
                yield "sweep", bucket, live, ",".join(sorted(self.users.map_state.keys()))
            elif op == "get":
                yield "get", bucket, int(self.users.get(arg) is not None), arg

    from recstream.flink_env import prepare_process_env, python_conf

    prepare_process_env()
    conf = Configuration()
    for k, v in {**python_conf(), "python.execution-mode": "thread", "state.backend.type": backend}.items():
        conf.set_string(k, v)
    env = StreamExecutionEnvironment.get_execution_environment(conf)
    env.set_parallelism(1)
    source = env.from_collection(ops, type_info=Types.TUPLE([Types.INT(), Types.STRING(), Types.STRING()]))
    out = (source.key_by(lambda r: r[0], key_type=Types.INT())
           .process(Ops(), output_type=Types.TUPLE([Types.STRING(), Types.INT(), Types.INT(), Types.STRING()])))
    with out.execute_and_collect() as results:
        return [tuple(r) for r in results]


@pytest.mark.parametrize("backend", ["hashmap", "rocksdb"])
def test_sweep_counts_live_entries_of_its_bucket_and_expired_ones_are_gone(backend):
    ops = [(0, "put", "a"), (0, "put", "b"), (1, "put", "x"),
           (0, "sweep", ""), (1, "sweep", ""),
           (0, "wait", "1.0"),  # a, b and x expire (TTL 0.4 s from their last write)
           (0, "put", "c"), (1, "put", "y"),
           (0, "sweep", ""), (1, "sweep", ""),
           (0, "get", "a"), (0, "get", "c"), (1, "get", "x"), (1, "get", "y")]
    got = run_ops(ops, backend)
    sweeps = [r[1:] for r in got if r[0] == "sweep"]
    assert sweeps == [(0, 2, "a,b"), (1, 1, "x"), (0, 1, "c"), (1, 1, "y")]
    gets = {(r[1], r[3]): r[2] for r in got if r[0] == "get"}
    assert gets == {(0, "a"): 0, (0, "c"): 1, (1, "x"): 0, (1, "y"): 1}
