"""``recstream bench`` finds the checkout's bench/ scripts and passes its arguments through."""
from typer.testing import CliRunner

from recstream.cli import app


def test_bench_lists_the_benchmarks():
    out = CliRunner().invoke(app, ["bench", "--help"])
    assert out.exit_code == 0
    for name in ("e2e", "scale", "model", "inference", "feature", "kafka", "train-time", "report", "all"):
        assert name in out.output


def test_bench_passes_arguments_to_the_script():
    out = CliRunner().invoke(app, ["bench", "e2e", "--ml-path", "/nonexistent", "--skip-latency"])
    assert out.exit_code == 2  # the script's own argparse error, with its program name
    assert "recstream bench e2e" in out.output and "MovieLens 100K not found" in out.output
