"""open_store / store_spec: the picklable store description the Flink writers open in a worker."""
import pickle

from recstream.config import load_config
from recstream.store.base import FeatureRow
from recstream.store.factory import open_store, open_store_spec, store_spec


def test_sqlite_spec_round_trips_through_pickle(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config([], ["store.sqlite.path=rel/store.sqlite"])
    spec = pickle.loads(pickle.dumps(store_spec(cfg.store)))
    assert spec["kind"] == "sqlite" and spec["sqlite"]["path"] == str(tmp_path / "rel" / "store.sqlite")
    with open_store_spec(spec) as st:
        assert st.kind == "sqlite"
        st.upsert_features([FeatureRow("u1", 1, 1, "{}", "[]")])
    with open_store_spec(str(tmp_path / "rel" / "store.sqlite"), read_only=True) as st:  # older job graphs
        assert st.get_user_state("u1")["event_time"] == 1
    with open_store(cfg.store, read_only=True) as st:
        assert st.get_user_state("u1") is not None
