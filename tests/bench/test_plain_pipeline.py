"""The plain-Python floor of the benchmarks does the job's work: every event accounted for, the
same final features as the reference fold, a score row per user from the same model."""
import json

import numpy as np

from bench.plain_pipeline import run_plain
from recstream.config import load_config
from recstream.replay import source_lines
from recstream.store.sqlite import SqliteStore
from udfs.features.batch import fold_with_items
from udfs.features.runtime import FoldOptions, FoldRuntime
from udfs.inference import Scorer


def test_plain_pipeline_matches_the_reference_fold_and_the_model(tmp_path):
    cfg = load_config(overrides=["source.synthetic.events=3000", "source.synthetic.users=120",
                                 f"store.sqlite.path={tmp_path / 's.sqlite'}", "model.cold_start_min_events=3"])
    lines = list(source_lines(cfg))
    r = run_plain(cfg, lines, chunk=400)
    assert r["applied"] + r["dead"] + r["late"] == r["events"] == len(lines)
    assert r["dead"] > 0 and r["late"] > 0

    params = cfg.features.params()
    rt = FoldRuntime(FoldOptions.from_config(cfg), params)
    ref = fold_with_items(lines, params, rt)
    assert r["applied"] == sum(s.seq - s.late for s in ref.states.values())
    scorer = Scorer.load(cfg.model.path, "cpu", cold_start_min_events=3)
    with SqliteStore(cfg.store.sqlite.path, read_only=True) as store:
        stored = {row["user_id"]: row for row in store.iter_user_states()}
        assert set(stored) == set(ref.states)
        for uid, state in ref.states.items():
            assert json.loads(stored[uid]["features"] if isinstance(stored[uid]["features"], str)
                              else json.dumps(stored[uid]["features"])) == json.loads(rt.features_json(state, params))
        warm = [u for u, s in ref.states.items() if s.seq - s.late >= 3][:20]
        assert warm
        expect = scorer.score([ref.states[u].sequence.item_ids() for u in warm],
                              [ref.states[u].seq - ref.states[u].late for u in warm])
        for uid, e in zip(warm, expect):
            got = store.get_top_k(uid)
            assert not got["cold_start"] and got["items"] == e.items
            assert np.allclose(got["embedding"], e.embedding, atol=1e-5)
        assert all(store.get_item(i) is not None for i in list(ref.items)[:20])
