"""deploy/docker-compose.yml and deploy/k8s: they cannot run here (no Docker, no Kubernetes), so
this checks what can be checked: they parse, the recstream config they carry validates, and the
objects refer to each other by the right names."""
from __future__ import annotations

from pathlib import Path

import yaml

from recstream.config import load_config

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"


def k8s_objects() -> dict[tuple[str, str], dict]:
    out = {}
    for f in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(f.read_text()):
            if doc and doc.get("kind") != "Kustomization":
                out[(doc["kind"], doc["metadata"]["name"])] = doc
    return out


def test_compose_services_and_cassandra_init():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"kafka", "cassandra", "cassandra-init", "jobmanager", "taskmanager"} <= set(services)
    init = services["cassandra-init"]
    assert init["command"][:3] == ["recstream", "cassandra", "init"]
    assert init["depends_on"]["cassandra"]["condition"] == "service_healthy"
    for name in ("cassandra-init", "jobmanager", "taskmanager"):
        assert services[name]["environment"]["RECSTREAM_CASSANDRA_HOSTS"] == "cassandra:9042"
        assert "PASSWORD" not in str(services[name]["environment"])


def test_k8s_config_validates_and_references_resolve(tmp_path):
    objs = k8s_objects()
    conf = tmp_path / "recstream.yaml"
    conf.write_text(objs[("ConfigMap", "recstream-config")]["data"]["recstream.yaml"])
    cfg = load_config([conf])
    assert cfg.store.kind == "cassandra" and cfg.store.cassandra.replication.datacenters == {"dc1": 3}
    # the job sets no restart strategy (nor checkpointing): the FlinkDeployment's own config decides
    from flink_jobs.environment import flink_configuration

    deployment = objs[("FlinkDeployment", "recstream-features")]["spec"]["flinkConfiguration"]
    job_keys = flink_configuration(cfg)
    assert deployment["restart-strategy.type"] == "failure-rate"
    assert not [k for k in job_keys if k.startswith(("restart-strategy", "execution.checkpointing.interval"))]
    assert cfg.store.cassandra.auth is not None and cfg.store.cassandra.auth.username is None  # from the Secret
    sts = objs[("StatefulSet", "cassandra")]
    env = {e["name"]: e["value"] for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["CASSANDRA_DC"] == cfg.store.cassandra.local_dc
    assert sts["spec"]["replicas"] >= cfg.store.cassandra.replication.datacenters["dc1"]
    job = objs[("Job", "recstream-cassandra-init")]["spec"]["template"]["spec"]
    assert job["volumes"][0]["configMap"]["name"] == "recstream-config"
    secret = objs[("Secret", "recstream-cassandra")]
    for e in job["containers"][0]["env"]:
        ref = e["valueFrom"]["secretKeyRef"]
        assert ref["name"] == "recstream-cassandra" and ref["key"] in secret["stringData"]
    kust = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    assert all((DEPLOY / "k8s" / r).exists() for r in kust["resources"])
    assert "cassandra-auth.example.yaml" not in kust["resources"]  # the real Secret is made out of band


def _serve_options() -> set[str]:
    import typer

    from recstream.cli import app

    serve = typer.main.get_command(app).commands["serve"]
    return {opt for p in serve.params for opt in p.opts}


def _check_serve_command(command: list[str]) -> None:
    assert command[:2] == ["recstream", "serve"]
    assert {a for a in command[2:] if a.startswith("--")} <= _serve_options()
    assert command[command.index("--host") + 1] == "0.0.0.0"


def test_compose_runs_the_feature_server_on_the_jobs_store():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    server = compose["services"]["server"]
    _check_serve_command(server["command"])
    port = server["command"][server["command"].index("--port") + 1]
    assert server["ports"] == [f"{port}:{port}"] and f":{port}/healthz" in " ".join(server["healthcheck"]["test"])
    assert "store.kind=cassandra" in server["command"]
    assert server["environment"]["RECSTREAM_CASSANDRA_HOSTS"] == "cassandra:9042"
    assert server["environment"]["RECSTREAM_API_KEY"] == "${RECSTREAM_API_KEY:-}"  # from the shell, not the file
    assert "[serve]" in compose["x-recstream-build"]["dockerfile_inline"]


def test_k8s_feature_server_deployment_and_service():
    objs = k8s_objects()
    dep, svc = objs[("Deployment", "recstream-serve")], objs[("Service", "recstream-serve")]
    pod = dep["spec"]["template"]
    assert dep["spec"]["selector"]["matchLabels"] == pod["metadata"]["labels"] == svc["spec"]["selector"]
    (c,) = pod["spec"]["containers"]
    _check_serve_command(c["command"])
    port = int(c["command"][c["command"].index("--port") + 1])
    assert c["ports"] == [{"name": "http", "containerPort": port}]
    assert svc["spec"]["ports"][0]["targetPort"] == "http"
    assert c["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(port)
    config = c["command"][c["command"].index("--config") + 1]
    mount = next(m for m in c["volumeMounts"] if config.startswith(m["mountPath"]))
    volume = next(v for v in pod["spec"]["volumes"] if v["name"] == mount["name"])
    assert volume["configMap"]["name"] == "recstream-config"
    secret = objs[("Secret", "recstream-cassandra")]
    for e in c["env"]:
        ref = e["valueFrom"]["secretKeyRef"]
        # the Cassandra Secret exists; the API-key and pseudonym-key Secrets are optional
        assert ref.get("optional") is True or (ref["name"] == "recstream-cassandra"
                                               and ref["key"] in secret["stringData"])
