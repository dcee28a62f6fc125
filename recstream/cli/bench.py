"""``recstream bench``: the benchmark harness under ``bench/`` (a source checkout's, not installed).

Each subcommand runs one ``bench/*_bench.py`` script with the arguments after it (``--help``
shows the script's own options) and writes ``bench/results/<name>.json`` plus its plots;
``report`` redraws every plot and rewrites the generated tables of ``docs/performance.md`` and
``README.md``;
``all`` runs e2e, scale and model, then report.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

import typer

SCRIPTS = {
    "e2e": ("bench.e2e_bench", "throughput (job vs plain Python vs raw onnxruntime), latency at 25/50/90%, state/user"),
    "scale": ("bench.scale_bench", "throughput and memory vs 10k/100k/1M users and N=20/50/200"),
    "cardinality": ("bench.cardinality_bench", "100k/1M users, most seen once per micro-batch: job with/without "
                    "scoring vs plain Python vs in-memory loop, latency, state, RocksDB"),
    "model": ("bench.model_speed_bench", "inference rows/s by batch size, FP32 vs FP16 vs INT8"),
    "inference": ("bench.inference_bench", "scoring inside the job vs raw onnxruntime (needs --model-dir)"),
    "feature": ("bench.feature_bench", "feature job alone on the ML-100K replay vs plain Python"),
    "kafka": ("bench.kafka_bench", "the feature job from Kafka (tansu broker) vs from a file"),
    "train-time": ("bench.train_time_bench", "recstream train with default settings on the Amazon S3-Rec files "
                   "(Sports; sampled vs full CE; --ml100k, --onnx)"),
    "serving": ("bench.serving_bench", "recstream serve over a 1M-user store: single GETs and 100-user batch gets"),
    "report": ("bench.report", "plots and the tables of docs/performance.md and README.md from bench/results/*.json"),
}

bench_app = typer.Typer(help="Benchmarks (bench/): results in bench/results/*.json, plots beside them.",
                        no_args_is_help=True)


def repo_root() -> Path:
    root = Path(__file__).resolve().parents[2]
    if not (root / "bench" / "e2e_bench.py").exists():
        raise typer.BadParameter(f"recstream bench runs from a source checkout; {root / 'bench'} not found")
    return root


def _run(module: str, args: list[str], name: str) -> None:
    root = repo_root()
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    mod = importlib.import_module(module)
    argv = sys.argv
    sys.argv = [f"recstream bench {name}", *args]
    try:
        mod.main()
    finally:
        sys.argv = argv


def _command(name: str, module: str, help_text: str):
    def cmd(ctx: typer.Context) -> None:
        _run(module, list(ctx.args), name)

    cmd.__doc__ = help_text
    bench_app.command(name, help=help_text, add_help_option=False,
                      context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(cmd)


for _name, (_module, _help) in SCRIPTS.items():
    _command(_name, _module, _help)


@bench_app.command("all")
def run_all(model_dir: Path = typer.Option(None, "--model-dir", help="exported model with fp16/int8 variants"
                                           " (default: each benchmark trains a small one)")) -> None:
    """e2e, scale and model benchmarks, then the report (about 30-40 minutes on 2 cores)."""
    extra = ["--model-dir", str(model_dir)] if model_dir else []
    for name in ("e2e", "scale", "model"):
        typer.echo(f"== bench {name}")
        _run(SCRIPTS[name][0], extra, name)
    _run(SCRIPTS["report"][0], [], "report")


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")
