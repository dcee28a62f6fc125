"""Loaders: SASRec txt, ML-100K layout (tiny fixture), event logs; padding helper."""

import pytest

from model_export.data import (UNK_INDEX, left_pad, load_dataset, load_ml100k, load_sasrec_txt,
                               sequences_from_events)


def test_sasrec_txt(tmp_path):
    f = tmp_path / "tiny.txt"
    f.write_text("1 3\n1 1\n1 2\n2 2\n2 10\n")
    d = load_sasrec_txt(f)
    assert d.item_ids == ["<pad>", "<unk>", "1", "2", "3", "10"]
    raw = {u: [d.item_ids[i] for i in s] for u, s in d.sequences.items()}
    assert raw == {"1": ["3", "1", "2"], "2": ["2", "10"]}
    assert d.n_interactions == 5 and len(d.data_hash()) == 64
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        load_sasrec_txt(tmp_path / "missing.txt")
    (tmp_path / "bad.txt").write_text("1\n")
    with pytest.raises(ValueError, match="bad.txt:1"):
        load_sasrec_txt(tmp_path / "bad.txt")


def test_ml100k_fixture(tmp_path):
    (tmp_path / "u.data").write_text("1\t20\t5\t300\n2\t10\t3\t100\n1\t10\t4\t100\n1\t30\t4\t200\n")
    genres = ["0"] * 19
    g = list(genres); g[1] = "1"; g[5] = "1"  # Action, Comedy
    (tmp_path / "u.item").write_text(
        "10|Movie A (1995)|01-Jan-1995||http://x|" + "|".join(g) + "\n"
        "20|Movie B (1995)|01-Jan-1995||http://x|" + "|".join(genres) + "\n")
    d = load_ml100k(tmp_path)
    raw = {u: [d.item_ids[i] for i in s] for u, s in d.sequences.items()}
    assert raw == {"1": ["10", "30", "20"], "2": ["10"]}
    i10 = d.item_ids.index("10")
    assert [d.feature_names[f] for f in d.item_features[i10]] == ["Action", "Comedy"]
    assert d.item_features[d.item_ids.index("30")] == []
    assert load_dataset("ml-100k", tmp_path).sequences == d.sequences


def test_sequences_from_events_sorts_dedupes_and_skips():
    evs = [
        {"user_id": "u1", "item_id": "b", "event_type": "view", "event_time": 2000, "category": "x"},
        {"user_id": "u1", "item_id": "a", "event_type": "view", "event_time": 1000, "category": "y"},
        {"user_id": "u1", "item_id": "b", "event_type": "click", "event_time": 2000},
        {"user_id": "u1", "item_id": "", "event_type": "search", "event_time": 2500},
        {"user_id": "u2", "item_id": "a", "event_type": "view", "event_time": 5},
        {"user_id": "u1", "item_id": "c", "event_type": "purchase", "event_time": 3000},
    ]
    d = sequences_from_events(evs)
    raw = {u: [d.item_ids[i] for i in s] for u, s in d.sequences.items()}
    assert raw == {"u1": ["a", "b", "c"], "u2": ["a"]}
    assert d.feature_names[d.item_features[d.item_ids.index("b")][0]] == "x"
    full = sequences_from_events(evs, dedupe_consecutive=False)
    assert [full.item_ids[i] for i in full.sequences["u1"]] == ["a", "b", "b", "c"]


def test_left_pad_truncates_and_pads():
    x = left_pad([[5, 6, 7], [], [2, 3, 4, 5, 6, 7]], 4)
    assert x.tolist() == [[0, 5, 6, 7], [0, 0, 0, 0], [4, 5, 6, 7]]
    assert x.dtype.name == "int64" and UNK_INDEX == 1


def test_s3rec_txt_and_format_detection(tmp_path):
    from model_export.data import load_s3rec_txt, sniff_sequence_format

    f = tmp_path / "Tiny.txt"
    f.write_text("1 3 1 2\n2 2 10\n\n1 5\n")
    d = load_s3rec_txt(f)
    assert d.item_ids == ["<pad>", "<unk>", "1", "2", "3", "5", "10"]
    raw = {u: [d.item_ids[i] for i in s] for u, s in d.sequences.items()}
    assert raw == {"1": ["3", "1", "2", "5"], "2": ["2", "10"]}
    assert d.n_interactions == 6 and d.name == "Tiny" and d.time_range is None
    assert sniff_sequence_format(f) == "s3rec"
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("1 3\n1 1\n2 2\n")
    assert sniff_sequence_format(pairs) == "sasrec"
    assert load_dataset("sasrec", f).sequences == d.sequences  # the sasrec kind reads S3-Rec lines too
    assert load_dataset("s3rec", f).sequences == d.sequences
    assert load_dataset("sasrec", pairs).sequences == load_sasrec_txt(pairs).sequences
    (tmp_path / "bad.txt").write_text("1 2 3\n7\n")
    with pytest.raises(ValueError, match="bad.txt:2"):
        load_s3rec_txt(tmp_path / "bad.txt")
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        load_dataset("s3rec", tmp_path / "nope.txt")


def test_time_range_from_timed_sources(tmp_path):
    (tmp_path / "u.data").write_text("1\t20\t5\t300\n2\t10\t3\t100\n")
    assert load_ml100k(tmp_path).time_range == (100, 300)
    evs = [{"user_id": "u", "item_id": "a", "event_time": 7}, {"user_id": "u", "item_id": "b", "event_time": 3}]
    assert sequences_from_events(evs).time_range == (3, 7)
