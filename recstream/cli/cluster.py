"""``recstream cluster start|stop|status|add-taskmanager`` and ``recstream submit|cancel|wait``:
the job on a standalone Flink cluster (docs/cluster.md)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from recstream.cli.options import ConfigOpt, console, err, load_cli_config, set_option

cluster_app = typer.Typer(help="A local standalone Flink cluster from the installed package.", no_args_is_help=True)

SetOpt = set_option("cluster.rest_port=8082")


def _target(config, overrides, announce: bool = True):
    """The cluster this command addresses (docs/cluster.md: the one `cluster start` recorded, unless
    --config/--set name one); said on stderr so that --json output stays one document."""
    from recstream.cluster.state import resolve
    from recstream.config import ConfigError

    try:
        target = resolve(config or [], overrides or [])
    except (ConfigError, OSError) as exc:
        err.print(f"[red]config error:[/red] {exc}")
        raise typer.Exit(2)
    if announce:
        err.print(target.describe(), highlight=False)
    return target


def _cluster(config, overrides, announce: bool = True):
    from recstream.cluster import LocalCluster

    target = _target(config, overrides, announce)
    return LocalCluster(target.cfg.cluster, target.cfg.checkpoint, target.cfg.restart), target


@cluster_app.command("start")
def cluster_start(config: Optional[List[Path]] = ConfigOpt, overrides: Optional[List[str]] = SetOpt):
    """Generate the cluster config under cluster.home and start a JobManager and TaskManager(s)."""
    from recstream.cluster import LocalCluster
    from recstream.cluster.local import ClusterError
    from recstream.cluster.state import remember

    # start takes the settings it is given, never an earlier record
    cfg = load_cli_config(config, overrides)
    cluster = LocalCluster(cfg.cluster, cfg.checkpoint, cfg.restart)
    try:
        with err.status("starting Flink (about 10-20 s)"):
            ov = cluster.start()
    except ClusterError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1)
    record = remember(cfg)
    pids = ", ".join(f"{d.kind} {d.pid}" for d in cluster.running())
    console.print(f"Flink {ov.get('flink-version')} up: {ov['taskmanagers']} TaskManager(s), {ov['slots-total']} slots")
    # plain print: long paths stay one copyable line
    print(f"web UI  {cluster.url}\nconf    {cluster.layout.conf}\npids    {pids}\nrecord  {record}")
    console.print("cluster status / stop / submit / cancel / wait now address this cluster without --set cluster.*")


@cluster_app.command("stop")
def cluster_stop(config: Optional[List[Path]] = ConfigOpt, overrides: Optional[List[str]] = SetOpt):
    """Stop every process of the cluster by pid (TERM, then KILL after 30 s)."""
    from recstream.cluster.state import forget

    cluster, target = _cluster(config, overrides)
    pids = cluster.stop()
    forget(target)
    console.print(f"stopped pids {pids}" if pids else "no cluster process was running")


@cluster_app.command("status")
def cluster_status(config: Optional[List[Path]] = ConfigOpt, overrides: Optional[List[str]] = SetOpt,
                   json_out: bool = typer.Option(False, "--json")):
    """Processes by pid, REST /overview and the jobs of the cluster `cluster start` recorded (or the one
    --config/--set name). Exit 1 when the REST API does not answer or no cluster was started."""
    cluster, target = _cluster(config, overrides, announce=False)
    if target.source == "default" and not cluster.daemons():
        # nothing started from here and nothing named: do not report on whatever answers on 8081
        msg = (f"no cluster started: no `recstream cluster start` recorded in {target.cfg.job.work_dir.resolve()} "
               f"and no cluster process in {target.home}. Start one with `recstream cluster start`, or name one with "
               "--set cluster.home=DIR (a cluster started there) or --set cluster.rest_port=PORT")
        if json_out:
            print(json.dumps({"home": str(target.home), "rest": None, "source": "none", "processes": [],
                              "overview": None, "message": msg}))
        else:
            err.print(msg, highlight=False)
        raise typer.Exit(1)
    if not json_out:
        err.print(target.describe(), highlight=False)
    st = {**cluster.status(), "source": target.source}
    if st["overview"] is not None:
        st["jobs"] = cluster.rest.jobs()
    if json_out:
        print(json.dumps(st))
    else:
        for p in st["processes"]:
            console.print(f"{p['kind']:<18} pid {p['pid']:<8} {'alive' if p['alive'] else 'gone'}")
        if st["overview"] is None:
            console.print(f"REST {st['rest']}: not answering")
        else:
            ov = st["overview"]
            console.print(f"REST {st['rest']}: Flink {ov.get('flink-version')}, {ov['taskmanagers']} TaskManager(s), "
                          f"slots {ov['slots-available']}/{ov['slots-total']} free, jobs running {ov['jobs-running']}, "
                          f"finished {ov['jobs-finished']}, failed {ov['jobs-failed']}, cancelled {ov['jobs-cancelled']}")
            table = Table("job id", "name", "state", "duration s")
            for j in st["jobs"]:
                table.add_row(j["jid"], j["name"], j["state"], f"{j['duration'] / 1000:.1f}")
            console.print(table)
    if st["overview"] is None:
        raise typer.Exit(1)


@cluster_app.command("add-taskmanager")
def cluster_add_taskmanager(config: Optional[List[Path]] = ConfigOpt, overrides: Optional[List[str]] = SetOpt):
    """Start one more TaskManager (replace a lost one: a standalone cluster does not do that itself)."""
    cluster, _ = _cluster(config, overrides)
    d = cluster.add_taskmanager()
    console.print(f"TaskManager pid {d.pid}")


def submit(
    input: Optional[Path] = typer.Option(None, "--input", "-i", help="replay file/dir of raw JSON events (feature job)"),
    entry: str = typer.Option("flink_jobs.feature_job", help="job module with main(); gets --config, --run-id, --detached"),
    from_savepoint: Optional[str] = typer.Option(None, "--from-savepoint", help="resume from this savepoint/checkpoint"),
    allow_non_restored: bool = typer.Option(False, "--allow-non-restored-state",
                                            help="resume even if some saved state maps to no operator"),
    wait: bool = typer.Option(False, help="wait until the job ends; exit 1 unless FINISHED"),
    timeout_s: float = typer.Option(3600.0, help="with --wait: give up after this long"),
    config: Optional[List[Path]] = ConfigOpt,
    overrides: Optional[List[str]] = SetOpt,
    entry_args: Optional[List[str]] = typer.Argument(None, help="more arguments for the entry point (after --)"),
    json_out: bool = typer.Option(False, "--json"),
):
    """Submit the job to the cluster (detached) and print its job id and web UI link."""
    from recstream.cluster.submit import SubmitError, submit as do_submit

    cfg = _target(config, overrides).cfg
    args = list(entry_args or [])
    if input is not None:
        if not input.exists():
            err.print(f"[red]error:[/red] input {input} not found")
            raise typer.Exit(1)
        args = ["--input", str(input.resolve())] + args
    try:
        sub = do_submit(cfg, entry=entry, entry_args=args, from_savepoint=from_savepoint,
                        allow_non_restored_state=allow_non_restored)
    except (SubmitError, FileNotFoundError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1)
    for warning in sub.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}")
    if json_out:
        print(sub.to_json().replace("\n", ""))
    else:
        console.print(f"job id  {sub.job_id}\nrun id  {sub.run_id}\nweb UI  {sub.web_url}\nstaged  {sub.staged}")
    if wait:
        _wait(cfg, sub.job_id, timeout_s)


def _unreachable(exc: Exception, rest: str) -> str:
    """An exception as one line; nothing answering on the REST port reads as such."""
    if isinstance(exc, OSError) and not isinstance(exc, TimeoutError):
        return f"cannot reach the Flink REST API at {rest}: {getattr(exc, 'reason', None) or exc}"
    return str(exc)


def _wait(cfg, job_id: str, timeout_s: float) -> None:
    from recstream.cluster.rest import FlinkRest

    rest = FlinkRest(f"http://127.0.0.1:{cfg.cluster.rest_port}")
    try:
        state = rest.wait_for_state(job_id, {"FINISHED"}, timeout_s)
    except (RuntimeError, TimeoutError, OSError) as exc:
        err.print(f"[red]error:[/red] {_unreachable(exc, rest.base)}")
        raise typer.Exit(1)
    err.print(f"job {job_id} {state}")


def wait(job_id: str, timeout_s: float = typer.Option(3600.0), config: Optional[List[Path]] = ConfigOpt,
         overrides: Optional[List[str]] = SetOpt):
    """Wait until a job ends; exit 1 unless it FINISHED."""
    _wait(_target(config, overrides).cfg, job_id, timeout_s)


def cancel(
    job_id: str,
    savepoint: Optional[Path] = typer.Option(None, "--savepoint", help="stop with a savepoint in this folder"),
    drain: bool = typer.Option(False, help="with --savepoint: flush windows/timers first (not for upgrades)"),
    config: Optional[List[Path]] = ConfigOpt,
    overrides: Optional[List[str]] = SetOpt,
):
    """Cancel a job, or stop it with a savepoint (prints the path for `submit --from-savepoint`)."""
    from recstream.cluster.rest import RestError
    from recstream.cluster.submit import cancel as do_cancel

    cfg = _target(config, overrides).cfg
    try:
        location = do_cancel(cfg, job_id, savepoint, drain=drain)
    except (RestError, RuntimeError, TimeoutError, OSError) as exc:
        err.print(f"[red]error:[/red] {_unreachable(exc, f'http://127.0.0.1:{cfg.cluster.rest_port}')}")
        raise typer.Exit(1)
    console.print(f"savepoint {location}" if location else f"cancelled {job_id}")


def register(app: typer.Typer) -> None:
    app.add_typer(cluster_app, name="cluster")
    app.command("submit", context_settings={"allow_extra_args": False})(submit)
    app.command("cancel")(cancel)
    app.command("wait")(wait)
