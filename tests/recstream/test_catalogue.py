"""Catalogue → ONNX text embeddings (no torch) → embeddings file → content features in the fold
and embeddings on the item rows. The encoder export is made once per session
(tests/text_encoder_helpers.py) and needs the train extra; without it these tests skip
and say so."""
import json
import subprocess
import sys

import numpy as np
import pytest

from recstream.backfill import backfill
from recstream.catalogue import CatalogueError, movielens_catalogue, read_catalogue
from recstream.config import load_config
from recstream.store.sqlite import SqliteStore
from tests.text_encoder_helpers import exported_text_encoder
from udfs.content import TextEncoder, item_text
from udfs.features.embeddings import EmbeddingTable

CATALOGUE = [
    {"item_id": "m1", "title": "Star Voyage", "description": "A crew explores distant galaxies aboard a starship.",
     "category": "Sci-Fi", "tags": ["space", "adventure"]},
    {"item_id": "m2", "title": "Orbit", "description": "Astronauts stranded on a space station fight to get home.",
     "category": "Sci-Fi", "tags": ["space", "survival"]},
    {"item_id": "c1", "title": "Pasta Night", "description": "Simple Italian recipes for fresh pasta and sauces.",
     "category": "Cooking", "tags": ["italian", "recipes"]},
    {"item_id": "c2", "title": "Bread at Home", "description": "Baking sourdough and rustic loaves in your kitchen.",
     "category": "Cooking", "tags": ["baking"]},
    {"item_id": "x1", "title": "Quiet Item"},
]
T0 = 1_767_225_600_000


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory):
    return exported_text_encoder(tmp_path_factory)[0]


@pytest.fixture(scope="module")
def embedded(tmp_path_factory, encoder_dir):
    tmp = tmp_path_factory.mktemp("catalogue")
    cat = tmp / "catalogue.jsonl"
    cat.write_text("\n".join(json.dumps(c) for c in CATALOGUE) + "\n")
    # the embedding step in a fresh interpreter: it must not import torch
    code = ("import json, sys; from recstream.catalogue import embed_catalogue_file; "
            f"card = embed_catalogue_file({str(cat)!r}, {str(tmp / 'emb')!r}, {str(encoder_dir)!r}); "
            "print(json.dumps({'card': card, 'torch': 'torch' in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["torch"] is False
    return tmp, res["card"]


def test_embeddings_file_holds_the_encoders_vectors(embedded, encoder_dir):
    tmp, card = embedded
    table = EmbeddingTable.load(tmp / "emb")
    assert card["n_items"] == len(table) == len(CATALOGUE) and card["dim"] == table.dim == 384
    assert card["encoder"]["name"] and card["catalogue_sha256"]
    enc = TextEncoder.load(encoder_dir)
    want = enc.encode([item_text(c) for c in CATALOGUE])
    for c, w in zip(CATALOGUE, want):
        v = table.get(c["item_id"])
        assert abs(float(np.linalg.norm(v)) - 1.0) < 1e-5
        np.testing.assert_allclose(v, w, atol=1e-5)
    cos = lambda a, b: float(table.get(a) @ table.get(b))  # noqa: E731
    assert cos("m1", "m2") > cos("m1", "c1") and cos("c1", "c2") > cos("c1", "m2")


def test_cli_embed_and_content_features_in_a_backfill(embedded, encoder_dir, tmp_path):
    tmp, _ = embedded
    cat = tmp / "catalogue.jsonl"
    out = subprocess.run([sys.executable, "-m", "recstream", "catalogue", "embed", "--input", str(cat),
                          "--out", str(tmp_path / "emb"), "--encoder", str(encoder_dir)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout)["n_items"] == len(CATALOGUE)
    events = tmp_path / "events.jsonl"
    evs = []
    for n, (user, item) in enumerate([("space-fan", "m1"), ("space-fan", "m2"), ("cook", "c1"), ("cook", "c2"),
                                      ("cook", "nope")]):
        evs.append({"event_id": f"e{n}", "user_id": user, "item_id": item, "event_type": "view",
                    "event_time": T0 + n * 1000})
    events.write_text("\n".join(json.dumps(e) for e in evs) + "\n")
    cfg = load_config(overrides=[f"store.sqlite.path={tmp_path / 'store.sqlite'}",
                                 f"features.content.embeddings_path={tmp / 'emb'}"])
    backfill(cfg, events)
    table = EmbeddingTable.load(tmp / "emb")
    with SqliteStore(cfg.store.sqlite.path, read_only=True) as st:
        fan = st.get_user_state("space-fan")["features"]
        cook = st.get_user_state("cook")["features"]
        item = st.get_item("m1")["features"]
        assert st.get_item("x1") is None  # no events: no item row
    v = np.array(fan["content_interest"])
    assert abs(np.linalg.norm(v) - 1) < 1e-6 and v @ table.get("m1") > v @ table.get("c1")
    assert cook["content_missing"] == 1 and np.array(cook["content_interest"]) @ table.get("c2") > 0.5
    np.testing.assert_allclose(item["embedding"], table.get("m1"), atol=5e-7)


def test_catalogue_records_are_checked(tmp_path):
    f = tmp_path / "c.jsonl"
    for body, msg in [('{"title": "x"}', "item_id"), ("[1]", "item_id"), ('{"item_id": "a", "tags": "x"}', "tags"),
                      ('{"item_id": "a", "title": 3}', "title"), ("{oops", "not JSON"), ("", "no items")]:
        f.write_text(body + "\n")
        with pytest.raises(CatalogueError, match=msg):
            read_catalogue(f)


def test_movielens_catalogue(ml100k_dir, tmp_path):
    n = movielens_catalogue(ml100k_dir, tmp_path / "ml.jsonl")
    recs = read_catalogue(tmp_path / "ml.jsonl")
    assert n == len(recs) == 1682
    toy = recs[0]
    assert toy["item_id"] == "1" and toy["title"].startswith("Toy Story") and toy["category"] == toy["tags"][0]
