"""Each parallel subtask of a Python function learns its own index, in thread mode (the default) and
in process mode (the writers key their run counters by it: with one index for all, the subtasks of a
writer at parallelism 2 overwrote each other's counts and a run reported events lost)."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.flink


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_every_subtask_of_a_parallel_map_has_its_own_index(tmp_path, mode):
    from pyflink.common import Types
    from pyflink.datastream import MapFunction

    from flink_jobs.environment import create_environments
    from recstream.config import load_config
    from udfs.flink.types import subtask_index

    out = tmp_path / "indices"
    out.mkdir()

    class Record(MapFunction):
        def __init__(self, folder: str):
            self.folder = folder

        def open(self, runtime_context):
            import os
            import uuid

            with open(os.path.join(self.folder, uuid.uuid4().hex), "w") as f:
                f.write(str(subtask_index(runtime_context)))

        def map(self, value):
            return value

    env, _ = create_environments(load_config(overrides=["job.parallelism=3", f"job.execution_mode={mode}"]))
    (env.from_collection(list(range(30)), type_info=Types.INT())
     .map(Record(str(out)), output_type=Types.INT()).set_parallelism(3))
    env.execute("subtask-index")
    assert sorted(int(p.read_text()) for p in out.iterdir()) == [0, 1, 2]
