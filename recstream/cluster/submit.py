"""Submit a recstream job to a Flink session cluster with ``flink run -d``.

What travels with a submission (staged under ``<cluster.home>/submissions/<id>/``):

- ``code/``: a copy of the project's Python packages, shipped with ``-pyfs`` (the job entry
  point runs with ``-pym``). Flink uploads them to its blob server with the job, so a restart
  after a failure runs the same code even if the working tree changed meanwhile.
- ``model/``: a copy of the ONNX export the job scores with (``model.path`` points there), so a
  failover never re-opens a model that was rebuilt in place.
- ``config.yaml``: the fully resolved recstream config (absolute paths), including the cluster's
  checkpoint / state backend / restart keys resolved for a cluster (see recstream/cluster/job_conf.py).
- connector jars: ``job.jars`` become ``pipeline.jars`` and are uploaded with the job graph.

The entry point is a parameter (default ``flink_jobs.feature_job``); it is called as
``<module> --config <config.yaml> --run-id <id> --detached [entry args...]`` and must
submit without waiting (``env.execute_async``) when given ``--detached``.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from recstream.cluster.conf import ClusterLayout, flink_home, process_env, write_conf_dir
from recstream.cluster.rest import FlinkRest
from recstream.cluster.restore_hints import restore_hint
from recstream.config import RecstreamConfig

DEFAULT_ENTRY = "flink_jobs.feature_job"
PACKAGES = ("recstream", "flink_jobs", "udfs", "model_export", "schemas")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "models", "*.pt", "*.ckpt", ".pytest_cache")
_JOB_ID = re.compile(r"JobID\s+([0-9a-f]{32})")


class SubmitError(RuntimeError):
    """``flink run`` failed or printed no job id."""


@dataclass
class Submission:
    job_id: str
    run_id: str
    web_url: str
    rest_url: str
    entry: str
    args: list[str]
    staged: str
    from_savepoint: str | None = None
    submitted_at: float = field(default_factory=time.time)
    code_digest: str = ""
    taskmanager_pids: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)


def web_url(rest_url: str, job_id: str) -> str:
    return f"{rest_url.rstrip('/')}/#/job/running/{job_id}/overview"


def package_dir(name: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SubmitError(f"package {name} not importable: cannot ship it")
    return Path(list(spec.submodule_search_locations)[0])


def stage_code(dest: Path) -> list[Path]:
    """Copy the project's packages to ``dest`` (one folder per package); returns the folders."""
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for name in PACKAGES:
        target = dest / name
        shutil.copytree(package_dir(name), target, ignore=_IGNORE)
        out.append(target)
    return out


def code_digest(dirs: list[Path]) -> str:
    """sha256 over the staged code (relative paths and contents)."""
    h = hashlib.sha256()
    for d in dirs:
        for f in sorted(p for p in d.rglob("*") if p.is_file()):
            h.update(str(f.relative_to(d.parent)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def stale_code_warning(submissions: Path, digest: str, tm_pids: list[int], mode: str) -> str | None:
    """In thread mode a TaskManager embeds one Python interpreter for its whole life and keeps the
    modules the first job imported: a later job with changed code runs the OLD code on it (checked
    on this machine). Warn when an earlier submission to these same TaskManager processes shipped
    different code."""
    if mode != "thread" or not tm_pids:
        return None
    for record in submissions.glob("*/submission.json"):
        try:
            old = json.loads(record.read_text())
        except (OSError, ValueError):
            continue
        if set(old.get("taskmanager_pids") or []) & set(tm_pids) and old.get("code_digest") not in ("", digest):
            return ("the TaskManagers (pids " + ", ".join(map(str, sorted(tm_pids))) + ") already ran other code "
                    f"(submission {record.parent.name}); in thread mode they keep the Python modules they imported "
                    "first, so this job would run the old code. Restart them first (`recstream cluster stop` + "
                    "`start`, after stopping jobs with a savepoint) or use job.execution_mode=process.")
    return None


def _absolute(value):
    if isinstance(value, Path):
        return str(value.resolve())
    if isinstance(value, dict):
        return {k: _absolute(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_absolute(v) for v in value]
    return value


def job_config_snapshot(cfg: RecstreamConfig, model_dir: Path | None) -> dict:
    """The config the job runs with on the cluster: absolute paths, the staged model, and the
    ``checkpoint`` / ``restart`` keys resolved for a cluster (unset interval, dirs, state backend and
    attempts get the cluster's defaults), so the job's own environment sets the cluster's checkpoint and restart keys
    (``job.flink_conf`` still wins over them)."""
    from recstream.cluster.job_conf import cluster_dirs

    data = _absolute(cfg.model_dump(mode="python"))
    checkpoints, savepoints = cluster_dirs(cfg.cluster, cfg.checkpoint)
    data["checkpoint"].update(interval_ms=cfg.checkpoint.interval(on_cluster=True), dir=str(checkpoints),
                              savepoint_dir=str(savepoints), state_backend=cfg.checkpoint.backend(on_cluster=True))
    data["restart"]["attempts"] = cfg.restart.attempts_for(on_cluster=True)
    if cfg.job.final_metrics_wait_ms is None:
        data["job"]["final_metrics_wait_ms"] = 2 * metrics_fetch_interval_ms(cfg.cluster)
    data["model"]["enabled"] = cfg.model.active()
    if model_dir is not None:
        data["model"]["path"] = str(model_dir)
    return data


def metrics_fetch_interval_ms(cluster) -> int:
    """The cluster's ``metrics.fetcher.update-interval`` in ms (its config.yaml's value)."""
    from recstream.cluster.conf import METRICS_FETCH_INTERVAL_MS

    value = str(cluster.flink_conf.get("metrics.fetcher.update-interval", METRICS_FETCH_INTERVAL_MS)).strip()
    digits = value.removesuffix("ms").strip()
    if digits.isdigit():
        return int(digits)
    raise SubmitError(f"cluster.flink_conf: metrics.fetcher.update-interval={value!r}: give milliseconds, e.g. 2000")


def flink_cli(layout: ClusterLayout, args: list[str], timeout_s: float = 300.0) -> subprocess.CompletedProcess:
    if not (layout.conf / "config.yaml").exists():
        raise SubmitError(f"{layout.conf}/config.yaml missing: run `recstream cluster start` "
                          "(or generate the conf dir) first")
    return subprocess.run(["bash", str(flink_home() / "bin" / "flink"), *args], env=process_env(layout),
                          capture_output=True, text=True, timeout=timeout_s, cwd=layout.home)


def submit(cfg: RecstreamConfig, entry: str = DEFAULT_ENTRY, entry_args: list[str] = (),
           from_savepoint: str | None = None, allow_non_restored_state: bool = False,
           run_id: str | None = None, rest_url: str | None = None, timeout_s: float = 300.0) -> Submission:
    """Stage code, model and config and submit ``entry`` detached. Returns the submission
    (also written as ``submission.json`` next to the staged files)."""
    cluster = cfg.cluster
    layout = ClusterLayout.of(cluster)
    if not (layout.conf / "config.yaml").exists():
        write_conf_dir(cluster, checkpoint=cfg.checkpoint, restart=cfg.restart)
    rest_url = rest_url or f"http://127.0.0.1:{cluster.rest_port}"
    run_id = run_id or time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    staged = layout.submissions / run_id
    staged.mkdir(parents=True, exist_ok=False)
    code = stage_code(staged / "code")
    model_dir = None
    if cfg.model.active():
        model_dir = staged / "model"
        shutil.copytree(cfg.model.path.resolve(), model_dir, ignore=_IGNORE)
    for jar in cfg.job.jars:
        if not Path(jar).is_file():
            raise SubmitError(f"job.jars: {jar} not found")
    (staged / "config.yaml").write_text(yaml.safe_dump(job_config_snapshot(cfg, model_dir), sort_keys=False))
    digest = code_digest(code)
    from recstream.cluster.local import LocalCluster

    tm_pids = [d.pid for d in LocalCluster(cluster).taskmanagers()]
    warning = stale_code_warning(layout.submissions, digest, tm_pids, cfg.job.execution_mode)
    args = ["run", "-d", "-m", rest_url.split("://", 1)[-1].rstrip("/"),
            "-pyfs", ",".join(str(p) for p in code), "-pym", entry]
    if from_savepoint:
        args[2:2] = ["-s", str(from_savepoint)] + (["--allowNonRestoredState"] if allow_non_restored_state else [])
    program = ["--config", str(staged / "config.yaml"), "--run-id", run_id, "--detached", *entry_args]
    out = flink_cli(layout, args + program, timeout_s)
    (staged / "flink-run.log").write_text(out.stdout + "\n--- stderr ---\n" + out.stderr)
    found = _JOB_ID.findall(out.stdout + out.stderr)
    if out.returncode != 0 or not found:
        tail = "\n".join((out.stdout + out.stderr).strip().splitlines()[-25:])
        hint = restore_hint(out.stdout + out.stderr) if from_savepoint else None
        raise SubmitError((f"cannot restore {from_savepoint}: {hint}\n" if hint else "")
                          + f"flink run failed ({out.returncode}); log: {staged / 'flink-run.log'}\n{tail}")
    sub = Submission(job_id=found[0], run_id=run_id, web_url=web_url(rest_url, found[0]), rest_url=rest_url,
                     entry=entry, args=program, staged=str(staged), from_savepoint=from_savepoint,
                     code_digest=digest, taskmanager_pids=tm_pids, warnings=[warning] if warning else [])
    (staged / "submission.json").write_text(sub.to_json())
    return sub


def cancel(cfg: RecstreamConfig, job_id: str, savepoint_dir: Path | None = None, drain: bool = False,
           rest_url: str | None = None, timeout_s: float = 300.0) -> str | None:
    """Cancel ``job_id``; with ``savepoint_dir`` stop it with a savepoint there instead and
    return the savepoint's path (resume with ``submit(from_savepoint=...)``)."""
    rest = FlinkRest(rest_url or f"http://127.0.0.1:{cfg.cluster.rest_port}")
    if savepoint_dir is None:
        rest.cancel(job_id)
        return None
    target = Path(savepoint_dir).resolve()
    target.mkdir(parents=True, exist_ok=True)
    location = rest.stop_with_savepoint(job_id, target.as_uri(), drain=drain, timeout_s=timeout_s)
    return location[len("file:"):] if location.startswith("file:") else location
