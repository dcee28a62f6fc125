"""Item features computed by the real PyFlink job against the framework-free building blocks
(``fold_items``, ``rank_items``) fed with the same applied events and anomaly verdicts."""
import json

import numpy as np
import pytest

from tests.conftest import assert_close
from tests.stream_helpers import store_rows, stream_and_backfill
from udfs.events import try_parse_event
from udfs.features.anomaly import excluded
from udfs.features.embeddings import EmbeddingTable
from udfs.features.items import fold_items, rank_items
from udfs.features.runtime import FoldOptions, FoldRuntime
from udfs.features.user_state import LATE, UserState

pytestmark = pytest.mark.flink


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return stream_and_backfill(tmp_path_factory)


@pytest.fixture(scope="module")
def reference(run):
    """Applied events in file order (per partition file, as the job reads them) with their verdicts."""
    cfg = run["stream_cfg"]
    params = cfg.features.params()
    rt = FoldRuntime(FoldOptions.from_config(cfg), params)
    users, applied, flagged = {}, [], set()
    for f in sorted(run["events"].glob("*.jsonl")):
        for line in f.read_text().splitlines():
            event, _ = try_parse_event(line)
            if event is None:
                continue
            state = users.setdefault(event["user_id"], UserState(params))
            verdict = state.apply_event(event, params, rt)
            if verdict != LATE:
                applied.append(event)
                if excluded(verdict, params.anomaly):
                    flagged.add(id(event))
    states = fold_items(applied, params.items, excluded=lambda e: id(e) in flagged)
    cats = {}  # an item's category: that of its newest event (ties: the greater name)
    for e in applied:
        if "category" in e:
            cats[e["item_id"]] = max(cats.get(e["item_id"], (-1, "")), (e["event_time"], e["category"]))
    return params, states, {i: c for i, (_, c) in cats.items()}, applied, flagged


def test_item_features_match_fold_items(run, reference):
    params, states, cats, _, flagged = reference
    got = {r[0]: (r[1], r[2], json.loads(r[3]), r[4]) for r in
           store_rows(run["stream_cfg"], "SELECT item_id, event_time, state_seq, features, popularity FROM item_features")}
    assert set(got) == set(states)
    for item, s in states.items():
        event_time, seq, feats, popularity = got[item]
        assert seq == s.state_seq()
        assert feats.pop("category") == cats.get(item)
        feats.pop("embedding", None)
        assert_close(feats, s.features(params.items), path=item)
        assert popularity == pytest.approx(s.decayed_popularity(params.items, s.last_ts or 0), rel=1e-9)
    # the anomaly verdicts kept the flagged (bot) events out of every item feature
    assert sum(s.excluded for s in states.values()) == len(flagged) > 100
    assert sum(f["excluded_events"] for _, _, f, _ in got.values()) == len(flagged)


def test_item_rows_carry_the_stored_embedding(run):
    table = EmbeddingTable.load(run["tmp"] / "emb")
    rows = store_rows(run["stream_cfg"], "SELECT item_id, features FROM item_features")
    with_emb = 0
    for item, feats in rows:
        emb = json.loads(feats).get("embedding")
        if item in table:
            with_emb += 1
            np.testing.assert_allclose(emb, table.get(item), atol=5e-7)
        else:
            assert emb is None
    assert 0 < with_emb < len(rows)


def test_cold_start_lists_match_rank_items(run, reference):
    params, states, cats, applied, _ = reference
    k = run["stream_cfg"].features.items.top_k
    now = max(e["event_time"] for e in applied)
    lists = {r[0]: (r[1], json.loads(r[2]), json.loads(r[3])) for r in
             store_rows(run["stream_cfg"], "SELECT scope, event_time, items, scores FROM popular_items")}
    assert set(lists) == {"global"} | {f"category:{c}" for c in set(cats.values())}
    for scope, (event_time, items, scores) in lists.items():
        pool = states if scope == "global" else {i: s for i, s in states.items() if f"category:{cats.get(i)}" == scope}
        want = rank_items(pool, params.items, now, k, by="decayed")
        assert event_time == now
        assert items == [i for i, _ in want], scope
        assert scores == pytest.approx([v for _, v in want], rel=1e-9)
