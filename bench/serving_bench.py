"""Serving: single-user GETs and 100-user batch gets against ``recstream serve`` over a store of 1M users.

    recstream bench serving [--users 1000000] [--seconds 20] [--connections 4] [--store PATH]

The store: the job's own feature rows (a backfill of the seeded synthetic stream, ~500 users, the
same fold code the job runs) replicated under 1M user ids, with synthetic scores (top-20 items, a
32-float embedding), written through the store's batch upsert (``OnlineStore.upsert_users``). It is
kept at ``--store`` and reused when it already holds the users asked for.

The load generator runs on the same machine as the server: ``wrk`` (Debian package, C, one thread)
with a Lua script that picks a random stored user per request (batch: 100 random users per POST),
closed loop with ``--connections`` keep-alive connections; without wrk, an asyncio client pool of
the same shape (costs more CPU, so lower figures). Latency percentiles are the load generator's.
Other work on the machine shares the cores: the load average at start and end is recorded.

Writes ``bench/results/serving.json``.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.machine import _version, machine_info  # noqa: E402

BATCH = 100
K, EMB = 20, 32


def build_store(path: Path, users: int) -> dict:
    """Write ``users`` user states (+ scores) unless the store at ``path`` already has them."""
    from recstream.backfill import backfill
    from recstream.config import load_config
    from recstream.replay import write_replay_file
    from recstream.store.base import FeatureRow, ScoreRow
    from recstream.store.sqlite import SqliteStore

    how = ("features: the job's fold code (backfill of the seeded synthetic stream) replicated under "
           f"{users} user ids; scores: synthetic top-{K} + {EMB}-float embedding; written with "
           "OnlineStore.upsert_users (SQLite, one transaction per 10k users)")
    if path.exists():
        with SqliteStore(path) as st:
            have = st.conn.execute("SELECT count(*) FROM user_features").fetchone()[0]
        if have == users:
            return {"written_by": how, "reused": True}
        path.unlink()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="recstream-serving-bench-") as tmp:
        cfg = load_config(overrides=[f"store.sqlite.path={tmp}/templates.sqlite"])
        events = Path(tmp) / "events.jsonl"
        write_replay_file(cfg, events)
        backfill(cfg, events)
        with SqliteStore(cfg.store.sqlite.path) as st:
            templates = [(s["event_time"], json.dumps(s["features"]), json.dumps(s["sequence"]))
                         for s in st.iter_user_states()]
            popular = st.get_popular_items("global")
            items = st.conn.execute("SELECT item_id FROM item_features").fetchall()
        with SqliteStore(path) as out:
            from recstream.store.base import PopularItems

            out.set_popular_items([PopularItems("global", popular["event_time"], popular["items"],
                                                popular["scores"])])
            item_ids = [r[0] for r in items]
            rng = random.Random(1)
            for start in range(0, users, 10_000):
                rows = []
                for i in range(start, min(start + 10_000, users)):
                    et, feats, seq = templates[i % len(templates)]
                    uid = f"u{i:07d}"
                    top = rng.sample(item_ids, K)
                    rows.append((FeatureRow(uid, et, 1, feats, seq),
                                 ScoreRow(uid, et, 1, "bench", False, [round(rng.random(), 4) for _ in range(EMB)],
                                          top, sorted((round(rng.uniform(0, 5), 4) for _ in top), reverse=True),
                                          round(rng.random(), 4))))
                out.upsert_users(rows)
                if start % 100_000 == 0:
                    print(f"  store: {start + len(rows)} / {users} users", flush=True)
    return {"written_by": how, "reused": False, "write_s": round(time.monotonic() - t0, 1)}


WRK_LUA = """
local users = %(users)d
local batch = %(batch)d
math.randomseed(%(seed)d)
local function uid() return string.format("u%%07d", math.random(0, users - 1)) end
request = function()
  if batch == 0 then
    return wrk.format("GET", "/users/" .. uid())
  end
  local ids = {}
  for i = 1, batch do ids[i] = '"' .. uid() .. '"' end
  return wrk.format("POST", "/users:batchGet", {["Content-Type"] = "application/json"},
                    '{"user_ids":[' .. table.concat(ids, ",") .. ']}')
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT {"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p99_us":%%d,'
    .. '"non_2xx":%%d,"socket_errors":%%d}\\n', summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def run_wrk(base: str, users: int, batch: int, seconds: int, connections: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(WRK_LUA % {"users": users, "batch": batch, "seed": 7 + batch})
    try:
        out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", fh.name,
                              base], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(fh.name)
    r = json.loads(out.split("RESULT ", 1)[1].splitlines()[0])
    return {"requests": r["requests"], "seconds": r["duration_us"] / 1e6, "p50_ms": r["p50_us"] / 1000,
            "p99_ms": r["p99_us"] / 1000, "errors": r["non_2xx"] + r["socket_errors"]}


async def _pool(host: str, port: int, users: int, batch: int, seconds: float, connections: int) -> dict:
    """Closed-loop HTTP/1.1 keep-alive clients on raw asyncio streams (no client library overhead)."""
    lat: list[float] = []
    errors = 0
    rng = random.Random(7 + batch)
    deadline = time.perf_counter() + seconds

    def request() -> bytes:
        if batch == 0:
            return f"GET /users/u{rng.randrange(users):07d} HTTP/1.1\r\nHost: b\r\n\r\n".encode()
        body = json.dumps({"user_ids": [f"u{rng.randrange(users):07d}" for _ in range(batch)]}).encode()
        return (f"POST /users:batchGet HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    async def client():
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, port)
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            writer.write(request())
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length"))
            await reader.readexactly(length)
            lat.append(time.perf_counter() - t)
            if not head.startswith(b"HTTP/1.1 200"):
                errors += 1
        writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(connections)))
    took = time.perf_counter() - t0
    lat.sort()
    return {"requests": len(lat), "seconds": took, "p50_ms": lat[len(lat) // 2] * 1000,
            "p99_ms": lat[int(len(lat) * 0.99)] * 1000, "errors": errors}


def load(base: str, port: int, users: int, batch: int, seconds: int, connections: int) -> dict:
    if shutil.which("wrk"):
        return {**run_wrk(base, users, batch, seconds, connections), "generator": "wrk"}
    return {**asyncio.run(_pool("127.0.0.1", port, users, batch, seconds, connections)),
            "generator": "asyncio client pool"}


def _commit() -> dict:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "recstream", "bench"], cwd=REPO,
                               capture_output=True, text=True).stdout.strip()
        return {"commit": head, "dirty": bool(dirty)}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=int, default=20, help="per measured run")
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--store", type=Path, default=REPO / "recstream-data" / "bench" / "serving.sqlite")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "serving.json")
    args = ap.parse_args()
    info = machine_info()
    args.store.parent.mkdir(parents=True, exist_ok=True)
    store = build_store(args.store, args.users)
    print(f"store ready: {store}", flush=True)
    from recstream.cluster.local import free_port

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "RECSTREAM_API_KEY"}
    server = subprocess.Popen([sys.executable, "-m", "recstream", "serve", "--store", str(args.store), "--port",
                               str(port)], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        import urllib.request

        for _ in range(600):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        load(base, port, args.users, 0, 3, args.connections)  # warm-up: imports, page cache, connections
        load_start = os.getloadavg()
        single = load(base, port, args.users, 0, args.seconds, args.connections)
        print(f"single: {single}", flush=True)
        batch = load(base, port, args.users, BATCH, args.seconds, args.connections)
        print(f"batch: {batch}", flush=True)
        load_end = os.getloadavg()
    finally:
        server.terminate()
        server.wait(timeout=30)
    result = {
        "requests_per_s": round(single["requests"] / single["seconds"], 1),
        "p50_ms": round(single["p50_ms"], 3), "p99_ms": round(single["p99_ms"], 3), "errors": single["errors"],
        "batch": {"users_per_s": round(batch["requests"] * BATCH / batch["seconds"], 1),
                  "p99_ms": round(batch["p99_ms"], 3), "p50_ms": round(batch["p50_ms"], 3),
                  "users_per_request": BATCH, "errors": batch["errors"]},
        "users_in_store": args.users, "store": "sqlite",
        "store_rows": store,
        "load": {"generator": single["generator"], "same_machine": True, "connections": args.connections,
                 "closed_loop": True, "seconds_per_run": args.seconds, "load_avg_at_start": load_start,
                 "load_avg_at_end": load_end, "server": "recstream serve, 1 uvicorn process, 4 store threads"},
        "machine": info,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": _commit(),
        "versions": {p: _version(p) for p in ("fastapi", "starlette", "uvicorn", "uvloop", "httptools",
                                              "prometheus-client", "orjson", "recstream")},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("requests_per_s", "p50_ms", "p99_ms", "errors", "batch")}))


if __name__ == "__main__":
    main()
