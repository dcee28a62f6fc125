"""The job's Python operators run at ``job.parallelism``, read from the execution plan.

The planner's Table→DataStream translation resets the environment's default parallelism to
the routing SQL's (the source's); these tests fail if an operator built after it falls back
to that instead of ``job.parallelism``.
"""
import json

import pytest

from recstream.config import load_config

pytestmark = pytest.mark.flink

EVENT = '{"event_id":"e1","user_id":"u1","item_id":"i1","event_type":"view","event_time":1}\n'


def plan_parallelism(tmp_path, *overrides: str) -> dict[str, int]:
    """``{operator name: parallelism}`` of the file job's plan over a single input file."""
    from flink_jobs.environment import create_environments
    from flink_jobs.feature_job import build_feature_job, file_source_view

    cfg = load_config(overrides=[f"store.sqlite.path={tmp_path / 'store.sqlite'}", f"job.work_dir={tmp_path}",
                                 "model.provider=cpu", *overrides])
    path = tmp_path / "events.jsonl"
    path.write_text(EVENT)
    env, t_env = create_environments(cfg)
    view, source_parallelism = file_source_view(t_env, cfg, path)
    build_feature_job(env, t_env, cfg, None, "plan", source_parallelism, bounded=True, raw_view=view, line_based=True)
    return {n["contents"]: n["parallelism"] for n in json.loads(env.get_execution_plan())["nodes"]}


def by_name(plan: dict[str, int], part: str) -> int:
    [p] = [p for name, p in plan.items() if part in name]
    return p


def test_fold_and_in_fold_scorer_run_at_job_parallelism_with_one_source_file(tmp_path):
    plan = plan_parallelism(tmp_path, "job.parallelism=2")  # model.runner=fold, the default
    assert by_name(plan, "TableSourceScan(table=[[default_catalog, default_database, replay-file-0") == 1  # one file
    assert by_name(plan, "validate-fold-user-state") == 2
    assert by_name(plan, "fold-item-state") == 2
    # the model runs inside the fold: no scoring UDF and no separate drift step
    assert not [name for name in plan if "PythonCalc" in name or "interest-drift" in name]
    # SQLite takes one writer at a time; the item writer keeps one global popular list
    assert by_name(plan, "store-features") == 1
    assert by_name(plan, "store-scores") == 1
    assert by_name(plan, "store-dead-letters") == 1
    assert by_name(plan, "store-items") == 1


def test_scoring_udf_and_drift_run_at_job_parallelism(tmp_path):
    plan = plan_parallelism(tmp_path, "job.parallelism=2", "model.runner=udf")
    assert by_name(plan, "validate-fold-user-state") == 2
    assert by_name(plan, "PythonCalc") == 2  # the ONNX scoring pandas UDF
    assert by_name(plan, "interest-drift") == 2
    assert by_name(plan, "store-scores") == 1


def test_writers_scale_with_the_job_on_cassandra(tmp_path):
    plan = plan_parallelism(tmp_path, "job.parallelism=2", "store.kind=cassandra")
    assert by_name(plan, "store-features") == 2
    assert by_name(plan, "store-scores") == 2
    assert by_name(plan, "store-dead-letters") == 2
    assert by_name(plan, "store-items") == 1
