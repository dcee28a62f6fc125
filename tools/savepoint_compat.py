"""Release check: a savepoint taken by an older version of recstream, restored by this checkout.

    python -m tools.savepoint_compat --from-rev <git rev> [--work DIR] [--set KEY=VALUE ...]

1. ``git worktree add`` of ``--from-rev`` (the older version) under the work directory;
2. with that version's code (its own ``PYTHONPATH``, on its own standalone cluster): the paced
   end-to-end job of ``tests/e2e/test_cluster_recovery.py`` on its synthetic events, stopped with a
   savepoint mid-stream;
3. with this checkout's code, on a fresh cluster (thread-mode TaskManagers keep the modules of the
   first job they ran): the same job resumed from that savepoint until the end of the input, with the
   ``--set`` overrides (e.g. the migration step a refused restore names);
4. the store must then equal a batch fold of all the events (every user's features, sequence and
   event count, no event lost or counted twice), as in the upgrade end-to-end test.

The older version must have ``tests/e2e/test_cluster_recovery.py`` with ``submit_paced`` and
``wait_mid_stream`` (every version since the bucketed user fold has). Exit status 0: restored and
equal; 1: the restore failed (the job's exception is printed) or the store differs.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def phase(mode: str, work: Path, sets: list[str] = ()) -> None:
    """One side of the check, run with the current directory (first on sys.path) at the version's root."""
    sys.path.insert(0, os.getcwd())
    from recstream.cluster import LocalCluster
    from recstream.cluster.local import free_port
    from recstream.cluster.rest import FlinkRest
    from recstream.cluster.submit import cancel
    from recstream.config import load_config
    from tests.e2e.conftest import job_config, stored_progress
    from tests.e2e.helpers import assert_store_matches_reference, write_events
    from tests.e2e.test_cluster_recovery import CHECKPOINTS, SPEC, source_read, submit_paced, wait_mid_stream

    overrides = [f"cluster.home={work / ('cluster-' + mode)}", f"cluster.rest_port={free_port()}",
                 f"cluster.rpc_port={free_port()}"]
    cluster = LocalCluster(load_config(overrides=overrides).cluster)
    cluster.start()
    try:
        rest = FlinkRest(cluster.url)
        path = work / "events.jsonl"
        cfg = job_config(work, overrides, *CHECKPOINTS, *(sets if mode == "new" else ()))
        if mode == "old":
            lines = write_events(path, SPEC)
            sub = submit_paced(cfg, path)
            seen = wait_mid_stream(rest, sub.job_id, cfg.store.sqlite.path, len(lines))
            savepoint = cancel(cfg, sub.job_id, savepoint_dir=work / "savepoints")
            if rest.wait_for_state(sub.job_id, {"FINISHED"}, timeout_s=60) != "FINISHED":
                raise SystemExit("the older version's job did not stop with its savepoint")
            old = {"savepoint": str(savepoint), "run_id": sub.run_id, "read": source_read(rest, sub.job_id),
                   "folded_at_stop": stored_progress(cfg.store.sqlite.path), **seen}
            (work / "old.json").write_text(json.dumps(old))
            print(f"older version: savepoint {savepoint} after {old['read']:,} of {len(lines):,} lines", flush=True)
            return
        old = json.loads((work / "old.json").read_text())
        lines = path.read_text(encoding="utf-8").splitlines()
        try:
            sub = submit_paced(cfg, path, from_savepoint=old["savepoint"])
        except Exception as exc:  # SubmitError: the refused restore, with the migration step it names
            print(str(exc).splitlines()[0])
            raise SystemExit(1) from None
        state = rest.wait_for_state(sub.job_id, {"FINISHED", "FAILED"}, timeout_s=600)
        if state != "FINISHED":
            print(json.dumps(rest.exceptions(sub.job_id), indent=1)[:8000])
            raise SystemExit(1)
        read = source_read(rest, sub.job_id)
        if old["read"] + read != len(lines):
            raise SystemExit(f"the resumed source read {read:,} lines after {old['read']:,}, of {len(lines):,}")
        counts = assert_store_matches_reference(cfg.store.sqlite.path, lines, cfg.features.params(),
                                                [old["run_id"], sub.run_id])
        print("this checkout: restored and equal to the batch fold:",
              json.dumps({k: v for k, v in counts.items() if k != "scores"}), flush=True)
    finally:
        cluster.stop()


def run_phase(mode: str, root: Path, work: Path, sets: list[str] = ()) -> None:
    env = dict(os.environ)
    if mode == "old":  # ahead of this checkout's editable install, for the client and the TaskManagers
        env["PYTHONPATH"] = str(root)
    else:
        env.pop("PYTHONPATH", None)
    subprocess.run([sys.executable, "-m", "tools.savepoint_compat", "--phase", mode, "--work", str(work),
                    *(f"--set={x}" for x in sets)], cwd=root, env=env, check=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--from-rev", help="git revision whose job takes the savepoint")
    ap.add_argument("--work", type=Path, default=None, help="work directory (default: a new temporary one)")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                    help="config override for the restoring job (repeatable)")
    ap.add_argument("--phase", choices=("old", "new"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.phase:
        phase(args.phase, args.work, args.sets)
        return
    if not args.from_rev:
        ap.error("--from-rev is required")
    work = args.work or Path(tempfile.mkdtemp(prefix="recstream-savepoint-compat-"))
    work.mkdir(parents=True, exist_ok=True)
    old_root = work / "older"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(old_root), args.from_rev], check=True)
    try:
        # the older tree needs this tool too: it may predate it
        (old_root / "tools").mkdir(exist_ok=True)
        (old_root / "tools" / "savepoint_compat.py").write_text(Path(__file__).read_text())
        try:
            run_phase("old", old_root, work)
            run_phase("new", REPO, work, args.sets)
        except subprocess.CalledProcessError as exc:
            raise SystemExit(exc.returncode) from None
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(old_root)], check=False)


if __name__ == "__main__":
    main()
