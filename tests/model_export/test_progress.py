"""Epoch progress: plain lines off a terminal, the rich bar (and no plain lines) on one."""

from model_export.progress import EpochReporter


def test_plain_lines_with_estimate_after_first_epoch():
    out = []
    with EpochReporter("sasrec", 10, tty=False, log=out.append) as rep:
        rep.epoch(1, 2.5, 3.0, None, -1.0, 0)
        rep.epoch(2, 2.0, 3.0, 0.25, 0.25, 2, "early stop")
    assert out[0] == "epoch 1/10 | loss 2.5000 | 3.0 s"
    assert out[1] == "~3.0 s/epoch: at most 30 s for 10 epochs (early stopping usually ends sooner)"
    assert out[2] == "epoch 2/10 | loss 2.0000 | val ndcg@10 0.2500 | 3.0 s | best 0.2500 @ 2 | early stop"


def test_resumed_run_estimates_the_remaining_epochs_and_tty_uses_the_bar(capsys):
    out = []
    with EpochReporter("sasrec", 200, start_epoch=180, tty=False, log=out.append) as rep:
        rep.epoch(181, 1.0, 6.0, None, 0.3, 175)
    assert "at most 2.0 min for 20 epochs" in out[1]
    with EpochReporter("sasrec", 3, tty=True, log=out.append) as rep:
        rep.epoch(1, 1.0, 2.0, None, -1.0, 0)
    assert len(out) == 2  # nothing logged: the bar and its console show it
    assert "s/epoch" in capsys.readouterr().out
