"""A small client for the Flink REST API (the same endpoints the web UI reads)."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

TERMINAL = {"FINISHED", "FAILED", "CANCELED", "SUSPENDED"}


class RestError(RuntimeError):
    """The REST endpoint answered with an error status."""

    def __init__(self, method: str, url: str, status: int, body: str) -> None:
        super().__init__(f"{method} {url} -> HTTP {status}: {body[:500]}")
        self.status = status


class FlinkRest:
    def __init__(self, base: str, timeout_s: float = 10.0) -> None:
        self.base = base.rstrip("/")
        self.timeout_s = timeout_s

    def request(self, method: str, path: str, body: dict | None = None):
        url = self.base + path
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise RestError(method, url, exc.code, exc.read().decode("utf-8", "replace")) from None
        return json.loads(raw) if raw else None

    def get(self, path: str):
        return self.request("GET", path)

    # -- cluster ---------------------------------------------------------------------------
    def overview(self) -> dict:
        return self.get("/overview")

    def jobs(self) -> list[dict]:
        return self.get("/jobs/overview")["jobs"]

    def taskmanagers(self) -> list[dict]:
        return self.get("/taskmanagers")["taskmanagers"]

    # -- one job ---------------------------------------------------------------------------
    def job(self, job_id: str) -> dict:
        return self.get(f"/jobs/{job_id}")

    def state(self, job_id: str) -> str:
        return self.job(job_id)["state"]

    def exceptions(self, job_id: str) -> dict:
        return self.get(f"/jobs/{job_id}/exceptions")

    def checkpoints(self, job_id: str) -> dict:
        return self.get(f"/jobs/{job_id}/checkpoints")

    def checkpoint_config(self, job_id: str) -> dict:
        return self.get(f"/jobs/{job_id}/checkpoints/config")

    def job_metrics(self, job_id: str, names: list[str]) -> dict[str, str]:
        got = self.get(f"/jobs/{job_id}/metrics?get={','.join(names)}")
        return {m["id"]: m["value"] for m in got}

    def vertex_id(self, job_id: str, name_part: str) -> str:
        """Id of the job vertex whose name contains ``name_part`` (operators chain into vertices)."""
        found = [v for v in self.job(job_id)["vertices"] if name_part in v["name"]]
        if len(found) != 1:
            names = [v["name"] for v in self.job(job_id)["vertices"]]
            raise KeyError(f"{len(found)} vertices match {name_part!r}: {names}")
        return found[0]["id"]

    def vertex_metric_names(self, job_id: str, vertex_id: str) -> list[str]:
        return [m["id"] for m in self.get(f"/jobs/{job_id}/vertices/{vertex_id}/metrics")]

    def vertex_metrics(self, job_id: str, vertex_id: str, names: list[str]) -> dict[str, float]:
        """Metrics summed over the vertex's subtasks, by metric name (``<operator>.<group>.<name>``)."""
        if not names:
            return {}
        got = self.get(f"/jobs/{job_id}/vertices/{vertex_id}/subtasks/metrics?get={','.join(names)}&agg=sum")
        return {m["id"]: m["sum"] for m in got}

    def custom_metrics(self, job_id: str, group: str = "recstream") -> dict[str, float]:
        """Every ``<group>.*`` metric of the job, summed over subtasks, keyed by the metric's own name
        (``events_in``, ``store_rows_written``, ...); metrics of the same name in two operators add up."""
        out: dict[str, float] = {}
        for v in self.job(job_id)["vertices"]:
            # the vertex lists metrics per subtask ("0.<operator>.<group>.<name>"); aggregate by name
            names = sorted({n.split(".", 1)[1] for n in self.vertex_metric_names(job_id, v["id"])
                            if f".{group}." in n and n.split(".", 1)[0].isdigit()})
            numeric = {}
            for n in names:
                try:
                    numeric.update(self.vertex_metrics(job_id, v["id"], [n]))
                except RestError:
                    continue  # non-numeric gauges (e.g. distributions' string views)
            for n, value in numeric.items():
                key = n.split(f".{group}.", 1)[1]
                out[key] = out.get(key, 0) + value
        return out

    def wait_for_state(self, job_id: str, states: set[str], timeout_s: float, poll_s: float = 0.5) -> str:
        deadline = time.monotonic() + timeout_s
        state = "UNKNOWN"
        while time.monotonic() < deadline:
            try:
                state = self.state(job_id)
            except RestError as exc:
                if exc.status != 404:
                    raise
            if state in states:
                return state
            if state in TERMINAL:
                raise RuntimeError(f"job {job_id} ended {state}, expected {sorted(states)}: "
                                   f"{self.root_exception(job_id)}")
            time.sleep(poll_s)
        raise TimeoutError(f"job {job_id} still {state} after {timeout_s} s (wanted {sorted(states)})")

    def root_exception(self, job_id: str) -> str:
        try:
            exc = self.exceptions(job_id)
        except RestError:
            return ""
        history = exc.get("exceptionHistory", {}).get("entries", [])
        text = history[0].get("stacktrace", "") if history else exc.get("root-exception", "") or ""
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        causes = [line for line in lines if line.startswith("Caused by:")]
        return (causes[-1] if causes else lines[0]) if lines else ""

    # -- control ---------------------------------------------------------------------------
    def cancel(self, job_id: str) -> None:
        self.request("PATCH", f"/jobs/{job_id}?mode=cancel")

    def stop_with_savepoint(self, job_id: str, target_dir: str, drain: bool = False,
                            timeout_s: float = 300.0) -> str:
        """Take a savepoint and stop the job (sources stop at the savepoint; ``drain`` would also
        flush every window and timer first). Returns the savepoint's location."""
        trigger = self.request("POST", f"/jobs/{job_id}/stop",
                               {"targetDirectory": target_dir, "drain": drain, "formatType": "CANONICAL"})
        return self._await_savepoint(job_id, trigger["request-id"], timeout_s)

    def trigger_savepoint(self, job_id: str, target_dir: str, timeout_s: float = 300.0) -> str:
        """Take a savepoint and keep the job running. Returns the savepoint's location."""
        trigger = self.request("POST", f"/jobs/{job_id}/savepoints",
                               {"target-directory": target_dir, "cancel-job": False, "formatType": "CANONICAL"})
        return self._await_savepoint(job_id, trigger["request-id"], timeout_s)

    def _await_savepoint(self, job_id: str, request_id: str, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = self.get(f"/jobs/{job_id}/savepoints/{request_id}")
            if got["status"]["id"] == "COMPLETED":
                op = got.get("operation", {})
                if "failure-cause" in op:
                    cause = op["failure-cause"]
                    raise RuntimeError(f"savepoint of job {job_id} failed: "
                                       f"{cause.get('class')}: {cause.get('stack-trace', '')[:2000]}")
                return op["location"]
            time.sleep(0.5)
        raise TimeoutError(f"savepoint of job {job_id} not done after {timeout_s} s")
