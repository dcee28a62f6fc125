"""CLI smoke test: evaluate a SASRec-format file, train, export via Typer."""

import json

import pytest

pytest.importorskip("torch")

from typer.testing import CliRunner  # noqa: E402

from model_export.cli import app  # noqa: E402
from model_export.synthetic import fallback_events  # noqa: E402


def _sasrec_file(path):
    from model_export.data import sequences_from_events

    d = sequences_from_events(fallback_events(seed=5, n_users=150, n_items=400, n_events=3000))
    lines = [f"{int(u[1:]) + 1} {int(d.item_ids[i][1:]) + 1}" for u, s in d.sequences.items() for i in s]
    path.write_text("\n".join(lines) + "\n")


def test_cli_evaluate_train_export(tmp_path):
    f = tmp_path / "seq.txt"
    _sasrec_file(f)
    r = CliRunner().invoke(app, ["evaluate", "--data", "sasrec", "--path", str(f), "--epochs", "2",
                                 "--eval-every", "1", "--dim", "8", "--max-len", "10", "--json",
                                 str(tmp_path / "r.json")])
    assert r.exit_code == 0, r.output
    assert "HR@10" in r.output
    res = json.loads((tmp_path / "r.json").read_text())
    assert {"hr@10", "ndcg@10", "full_hr@10", "full_ndcg@10"} <= set(res["model"])
    assert {"most_popular", "gru"} == set(res["baselines"]) and "cpu_model" in res["machine"]
    r = CliRunner().invoke(app, ["train", "--data", "sasrec", "--path", str(f), "--epochs", "1", "--dim", "8",
                                 "--max-len", "10", "--out", str(tmp_path / "ck")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["export", "--checkpoint", str(tmp_path / "ck"), "--out", str(tmp_path / "ex"),
                                 "--top-k", "5"])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "ex" / "model.json").read_text())["top_k"] == 5
    r = CliRunner().invoke(app, ["evaluate", "--data", "sasrec", "--path", str(tmp_path / "missing.txt")])
    assert r.exit_code != 0 and "missing.txt" in r.output
