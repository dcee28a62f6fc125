"""A bounded run's operators wait ``job.final_metrics_wait_ms`` once their input ends (so the web UI
shows their final metrics): the wait must reach the operators in a real job."""
from __future__ import annotations

import pytest

from recstream.config import load_config
from recstream.sources.synthetic import SyntheticSpec, replay_lines

pytestmark = pytest.mark.flink

WAIT_MS = 4000


def test_bounded_run_waits_in_its_operators(tmp_path):
    from recstream.runner import run_local

    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(replay_lines(SyntheticSpec(seed=1, n_users=20, n_items=50, n_events=200))) + "\n")
    cfg = load_config(overrides=[f"store.sqlite.path={tmp_path / 'store.sqlite'}", f"job.work_dir={tmp_path}",
                                 "model.enabled=false", f"job.final_metrics_wait_ms={WAIT_MS}"])
    summary = run_local(cfg, path)
    assert summary.job_status == "FINISHED"
    # the fold waits, then the writers (their input ends when the fold's task has closed): a lower
    # bound only, which a slow machine cannot break
    assert summary.job_net_runtime_s >= 2 * WAIT_MS / 1000
