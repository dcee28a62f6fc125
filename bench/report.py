"""Plots (PNG, matplotlib) and the performance tables from ``bench/results/*.json``.

    recstream bench report      (or python bench/report.py)

The full table sits between ``<!-- results:begin -->`` and ``<!-- results:end -->`` in
``docs/performance.md``, the headline rows between ``<!-- headline:begin -->`` and
``<!-- headline:end -->`` in the top-level ``README.md``. Both are rewritten from the JSON files, so
they never drift from them (tests/bench/test_report.py checks the committed text).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
PERFORMANCE = REPO / "docs" / "performance.md"
README = REPO / "README.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
HEADLINE_BEGIN, HEADLINE_END = "<!-- headline:begin -->", "<!-- headline:end -->"
# rows of the full table that the README shows
HEADLINE = ("e2e-cluster-0", "e2e-local", "latency-50", "cardinality-off", "cardinality-on", "serving", "train-time")


def _plt():
    try:
        import matplotlib
    except ImportError:
        raise SystemExit("plots need matplotlib: pip install -e '.[bench]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _load(name: str) -> dict | None:
    p = RESULTS / f"{name}.json"
    return json.loads(p.read_text()) if p.exists() else None


def plot_e2e(r: dict, out_dir: Path = RESULTS) -> list[Path]:
    plt = _plt()
    paths = []
    fig, ax = plt.subplots(figsize=(7, 3.6))
    cluster = r.get("cluster") or {}
    bars = [(f"cluster {name}: + inference", c["events_per_s"], "#55a868") for name, c in cluster.items()]
    bars += [("local job: features + store", r["features_events_per_s"], "#4c72b0"),
             ("local job: + inference", r.get("local_events_per_s", r["events_per_s"]), "#4c72b0"),
             ("plain Python: features + store", r.get("plain_python_features_events_per_s"), "#999999"),
             ("plain Python: + inference", r["plain_python_events_per_s"], "#999999")]
    bars = [(k, v, c) for k, v, c in bars if v]
    ax.barh([k for k, _, _ in bars], [v for _, v, _ in bars], color=[c for _, _, c in bars])
    ax.axvline(r.get("target_events_per_s", 20_000), color="#c44e52", ls="--", label="target")
    for i, (_, v, _) in enumerate(bars):
        ax.text(v, i, f" {v:,}", va="center", fontsize=8)
    ax.set_xlabel("events/s (ML-100K replay)")
    ax.invert_yaxis()
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"throughput, parallelism {r['parallelism']}, {r['machine']['cores']} cores", fontsize=9)
    fig.tight_layout()
    paths.append(out_dir / "e2e_throughput.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    lat = r.get("latency")
    if lat:
        fig, ax = plt.subplots(figsize=(6, 3.4))
        lv = lat["levels"]
        x = [v["rate_events_per_s"] for v in lv]
        ax.plot(x, [v["p50_latency_s"] for v in lv], "o-", label="p50")
        ax.plot(x, [v["p99_latency_s"] for v in lv], "s-", label="p99")
        ax.axhline(1.0, color="#c44e52", ls="--", label="p99 target")
        for v in lv:
            ax.annotate(f"{int(v['fraction_of_max'] * 100)}%", (v["rate_events_per_s"], v["p99_latency_s"]),
                        textcoords="offset points", xytext=(0, 6), fontsize=8, ha="center")
        ax.set_xlabel(f"events/s ({lat['users']:,} users; max {lat['max_events_per_s']:,}/s)")
        ax.set_ylabel("event → stored row (s)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        paths.append(out_dir / "e2e_latency.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    return paths


def plot_scale(r: dict, out_dir: Path = RESULTS) -> list[Path]:
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    users = r["by_users"]
    xs = [u["users"] for u in users]
    axes[0].plot(xs, [u["events_per_s"] for u in users], "o-")
    axes[0].set_xscale("log")
    axes[0].set_ylim(bottom=0)
    axes[0].set_xlabel("distinct users")
    axes[0].set_ylabel("events/s")
    axes[0].set_title("throughput vs users (N=50)", fontsize=9)
    axes[1].plot(xs, [u["jvm_peak_rss_mib"] for u in users], "o-", label="JVM (JM+TM+Python, thread mode)")
    axes[1].plot(xs, [u["python_workers_peak_rss_mib"] for u in users], "s-", label="Python UDF workers")
    axes[1].set_xscale("log")
    axes[1].set_xlabel("distinct users")
    axes[1].set_ylabel("peak RSS (MiB)")
    axes[1].legend(fontsize=7)
    axes[1].set_title("memory vs users", fontsize=9)
    ns = r["by_sequence_length"]
    axes[2].bar([str(n["sequence_length"]) for n in ns], [n["state_bytes_median_full_sequence"] or 0 for n in ns])
    axes[2].axhline(4096, color="#c44e52", ls="--")
    axes[2].set_xlabel("sequence length N")
    axes[2].set_ylabel("bytes per user (median, full sequence)")
    axes[2].set_title("state per user vs N", fontsize=9)
    fig.tight_layout()
    path = out_dir / "scale.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]


def plot_model(r: dict, out_dir: Path = RESULTS) -> list[Path]:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for name, rows in r["by_variant"].items():
        ax.plot([x["batch_size"] for x in rows], [x["rows_per_s"] for x in rows], "o-", label=name)
    ax.set_xscale("log")
    ax.set_xlabel("batch size")
    ax.set_ylabel("rows/s")
    ax.set_title(f"inference on {r['provider']} ({r['device']})", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = out_dir / "model_speed.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]


def save_result(result: dict, out: Path, plot) -> None:
    """Write a benchmark's JSON (overwriting the last run) and its plots beside it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    plot(result, out.parent)


def _when(name: str) -> str:
    """``file.json (date)``: each result names the run it came from (its ``created``)."""
    created = (_load(name) or {}).get("created")
    return f"{name}.json ({created[:16].replace('T', ' ') if created else 'undated'})"


def machine_line() -> str:
    m = (_load("e2e") or {}).get("machine")
    if not m or "cpu" not in m:
        return ""
    v = m.get("versions", {})
    return (f"Machine (e2e.json): {m['cpu']}, {m['cores']} cores, {m.get('mem_gib')} GiB, Python {m.get('python')}, "
            f"{m.get('java')}, apache-flink {v.get('apache-flink')}, onnxruntime-gpu {v.get('onnxruntime-gpu')}")


def rows() -> list[tuple[str, str]]:
    """(key, markdown row) for every figure the result files hold."""
    out = []
    e = _load("e2e")
    if e:
        for i, c in enumerate((e.get("cluster") or {}).values()):  # the first layout is the headline
            out.append((f"e2e-cluster-{i}",
                        f"| end to end (features + inference + SQLite store), ML-100K replay, p={e['parallelism']}, "
                        f"standalone cluster {c['taskmanagers']} TaskManager(s) × {c['slots']} slot(s) | "
                        f"{c['events_per_s']:,} events/s | {'' if i else '≥ 20,000'} | {_when('e2e')} |"))
        target = "" if e.get("cluster") else "≥ 20,000"
        out.append(("e2e-local", f"| end to end, local mini-cluster (`recstream run`), p={e['parallelism']} | "
                                 f"{e.get('local_events_per_s', e['events_per_s']):,} events/s | {target} | {_when('e2e')} |"))
        out.append(("e2e-features", f"| features + store only, local mini-cluster | {e['features_events_per_s']:,} "
                                    f"events/s | | {_when('e2e')} |"))
        out.append(("e2e-plain", f"| plain single-process Python, same work | {e['plain_python_events_per_s']:,} events/s "
                                 f"(job / plain = {e['ratio_to_plain_python']}) | job ≥ 0.5 × plain | {_when('e2e')} |"))
        if e.get("latency"):
            lat = e["latency"]
            for lv in lat["levels"]:
                pct = int(lv["fraction_of_max"] * 100)
                out.append((f"latency-{pct}",
                            f"| latency at {pct}% of max ({lv['rate_events_per_s']:,}/s, "
                            f"{lat['users']:,} users) | p50 {lv['p50_latency_s']} s, p99 {lv['p99_latency_s']} s | "
                            f"{'p99 < 1 s' if lv['fraction_of_max'] == 0.5 else ''} | {_when('e2e')} |"))
        s = e["state"]
        out.append(("state", f"| state per user, N={s['sequence_length']} (ML-100K) | median {s['bytes_median']:,} B, "
                             f"full sequence {int(s['bytes_median_full_sequence']):,} B, p99 {s['bytes_p99']:,} B | "
                             f"< 4 KB | {_when('e2e')} |"))
    out += _cardinality_rows()
    inf = _load("inference")
    if inf:
        out.append(("inference", f"| inference in the job vs raw onnxruntime, batch {inf['batch_size']} | "
                                 f"{inf['job_rows_per_s']:,} vs {inf['raw_ort_rows_per_s']:,} rows/s "
                                 f"(ratio {inf['ratio_to_raw_ort']}) | ≥ 0.8 | {_when('inference')} |"))
    sc = _load("scale")
    if sc:
        for u in sc["by_users"]:
            out.append((f"scale-{u['users']}",
                        f"| {u['users']:,} users, N=50 ({u['events']:,} events) | {u['events_per_s']:,} events/s, "
                        f"JVM peak {u['jvm_peak_rss_mib']:,} MiB | | {_when('scale')} |"))
    ms = _load("model_speed")
    if ms:
        for name, rs in ms["by_variant"].items():
            best = max(rs, key=lambda x: x["rows_per_s"])
            out.append((f"model-{name}", f"| model {name} on {ms['provider']}: best batch {best['batch_size']} | "
                                         f"{best['rows_per_s']:,} rows/s | | {_when('model_speed')} |"))
    f = _load("feature")
    if f:
        out.append(("feature", f"| per-user features only (no interactions, anomaly or item path), ML-100K replay, "
                               f"p={f['events_per_s_parallelism']} | {f['events_per_s']:,} events/s (plain Python "
                               f"{f['plain_python_events_per_s']:,}) | | {_when('feature')} |"))
    k = _load("kafka")
    if k:
        out.append(("kafka", f"| from Kafka (tansu), features only | {k['kafka_events_per_s']:,} events/s "
                             f"(file {k['file_events_per_s']:,}) | | {_when('kafka')} |"))
    sv = _load("serving")
    if sv:
        b = sv.get("batch") or {}
        out.append(("serving", f"| `recstream serve` over a {sv['users_in_store']:,}-user {sv['store']} store, load "
                               f"generator on the same machine | {sv['requests_per_s']:,.0f} single-user GETs/s "
                               f"(p99 {sv['p99_ms']} ms); {b.get('users_per_s', 0):,.0f} users/s in "
                               f"{b.get('users_per_request')}-user batches | | {_when('serving')} |"))
    t = _load("train_time")
    if t and "runs" in t:
        for name, run in t["runs"].items():
            d = run.get("default")
            if d:
                out.append(("train-time",
                            f"| `recstream train`, default settings, {name} ({d['n_interactions']:,} interactions / "
                            f"{d['n_users']:,} users / {d['n_items']:,} items, {d['loss']} loss) | "
                            f"{d['wall_s'] / 60:.1f} min wall, best epoch {d['best_epoch']} of {d['epochs']}, test "
                            f"HR@10 {d['test']['hr@10']:.3f} | < {t['target_wall_s'] // 60} min | {_when('train_time')} |"))
    elif t:
        d = t["data"]
        out.append(("train-time",
                    f"| `recstream train`, default settings, {d['interactions']:,} interactions / {d['n_users']:,} "
                    f"users (synthetic) | {t['wall_seconds'] / 60:.1f} min wall, best epoch {t['best_epoch']} of "
                    f"{t['epochs_run']} | < {t['target_seconds'] // 60} min | {_when('train_time')} |"))
    mq = _load("model_ml-100k")
    if mq and "model" in mq:
        base = mq.get("baselines", {})
        others = ", ".join(f"{n} {b['hr@10']:.3f} / {b['ndcg@10']:.3f}" for n, b in base.items())
        out.append(("model-quality", f"| interest model ({mq['model']['name']}) on ML-100K, sampled HR@10 / NDCG@10 | "
                                     f"{mq['hr@10']:.3f} / {mq['ndcg@10']:.3f} ({others}) | | "
                                     f"{_when('model_ml-100k')} |"))
    return out


def _cardinality_rows() -> list[tuple[str, str]]:
    c = _load("cardinality")
    if not c or not c.get("runs"):
        return []
    top = max(r["users"] for r in c["runs"])
    out = []
    for scoring in (False, True):
        runs = [r for r in c["runs"] if r["users"] == top and r["scoring"] == scoring]
        if not runs:
            continue
        rates = " / ".join(f"{r['events_per_s']:,} ({r['layout']})" for r in runs)
        out.append((f"cardinality-{'on' if scoring else 'off'}",
                    f"| many users: uniform over {top:,} users, {runs[0]['events']:,} events, scoring "
                    f"{'on' if scoring else 'off'} | {rates} events/s | ≥ 20,000 | {_when('cardinality')} |"))
    lat = c.get("latency")
    if lat:
        out.append(("cardinality-latency", f"| many users: latency at 50% of the live maximum ({lat['rate_events_per_s']:,}/s, "
                                           f"{lat['users']:,} users) | p50 {lat['p50_s']} s, p99 {lat['p99_s']} s | "
                                           f"p99 < 1 s | {_when('cardinality')} |"))
    return out


def table(keys=None) -> str:
    """The results table: every row, or the rows of ``keys`` in table order."""
    body = [row for key, row in rows() if keys is None or key in keys]
    return "\n".join(["| measure | result | target | file (measured) |", "|---|---|---|---|", *body])


def full_block() -> str:
    machine = machine_line()
    return (machine + "\n\n" if machine else "") + table()


def blocks() -> list[tuple[Path, str, str, str]]:
    """(file, begin marker, end marker, generated text) for every generated table."""
    return [(PERFORMANCE, BEGIN, END, full_block()), (README, HEADLINE_BEGIN, HEADLINE_END, table(HEADLINE))]


def replace_block(text: str, begin: str, end: str, block: str) -> str:
    if begin not in text or end not in text:
        raise ValueError(f"markers {begin} ... {end} not found")
    head, rest = text.split(begin, 1)
    return f"{head}{begin}\n{block}\n{end}{rest.split(end, 1)[1]}"


def write_tables() -> list[Path]:
    """Rewrite every generated table in place; the files that changed."""
    changed = []
    for path, begin, end, block in blocks():
        text = path.read_text()
        new = replace_block(text, begin, end, block)
        if new != text:
            path.write_text(new)
            changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> None:
    import argparse

    argparse.ArgumentParser(prog="recstream bench report", description=__doc__.splitlines()[0]).parse_args(argv)
    made = []
    for name, fn in (("e2e", plot_e2e), ("scale", plot_scale), ("model_speed", plot_model)):
        r = _load(name)
        if r:
            made += fn(r)
    for p in made:
        print(p.relative_to(REPO))
    changed = write_tables()
    for path, *_ in blocks():
        print(f"{path.relative_to(REPO)}: {'rewritten' if path in changed else 'unchanged'}")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
