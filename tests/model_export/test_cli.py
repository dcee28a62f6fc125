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


def _s3rec_file(path):
    from model_export.data import sequences_from_events

    d = sequences_from_events(fallback_events(seed=5, n_users=150, n_items=400, n_events=3000))
    lines = [" ".join([str(int(u[1:]) + 1)] + [str(int(d.item_ids[i][1:]) + 1) for i in s])
             for u, s in d.sequences.items()]
    path.write_text("\n".join(lines) + "\n")


def test_cli_s3rec_train_resume_and_checkpoint_evaluation(tmp_path):
    f = tmp_path / "Tiny_s3rec.txt"
    _s3rec_file(f)
    ck = tmp_path / "ck"
    common = ["--dim", "8", "--max-len", "10", "--eval-every", "1"]
    r = CliRunner().invoke(app, ["train", "--data", "s3rec", "--path", str(f), "--epochs", "1", "--out", str(ck),
                                 "--loss", "sampled", "--negatives", "32", *common])
    assert r.exit_code == 0, r.output
    assert "loss sampled (32 shared negatives" in r.output and "epoch 1/1 | loss " in r.output
    r = CliRunner().invoke(app, ["train", "--data", "s3rec", "--path", str(f), "--resume", str(ck), "--epochs", "2"])
    assert r.exit_code == 0, r.output
    assert "resuming from" in r.output and "epoch 2/2 | loss " in r.output and "epoch 1/" not in r.output
    assert json.loads((ck / "meta.json").read_text())["epochs_run"] == 2
    r = CliRunner().invoke(app, ["train", "--data", "s3rec", "--path", str(f), "--resume", str(tmp_path / "none")])
    assert r.exit_code != 0 and "state.pt" in r.output
    ex = tmp_path / "ex"
    r = CliRunner().invoke(app, ["export", "--checkpoint", str(ck), "--out", str(ex), "--top-k", "5", "--int8",
                                 "--data", "s3rec", "--path", str(f)])
    assert r.exit_code == 0, r.output
    ev = json.loads((ex / "model.json").read_text())["evaluation"]
    assert set(ev) == {"pytorch", "fp32", "int8"}
    # evaluate on a checkpoint: that model only (no GRU training), ONNX alongside, table not cut at 80 columns
    r = CliRunner().invoke(app, ["evaluate", "--data", "s3rec", "--path", str(f), "--checkpoint", str(ck),
                                 "--onnx", str(ex), "--json", str(tmp_path / "r.json"), *common])
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "r.json").read_text())
    assert set(res["baselines"]) == {"most_popular"} and set(res["onnx"]) == {"fp32", "int8"}
    assert "epoch " not in r.output
    assert "full_ndcg@10" in r.output and max(len(ln) for ln in r.output.splitlines()) > 80
    # the S3-Rec code's protocol: 99 negatives, every user
    r = CliRunner().invoke(app, ["evaluate", "--data", "s3rec", "--path", str(f), "--checkpoint", str(ck),
                                 "--eval-negatives", "99", "--eval-users", "0", "--json", str(tmp_path / "s.json"),
                                 *common])
    assert r.exit_code == 0, r.output
    s3 = json.loads((tmp_path / "s.json").read_text())
    assert s3["eval_negatives"] == 99 and s3["eval_users"] == 0 and "99 sampled" in s3["protocol"]
    assert s3["model"]["n_users"] + s3["model"]["skipped_users"] == len(f.read_text().splitlines())
    assert res["eval_negatives"] == 100 and "100 sampled" in res["protocol"]
