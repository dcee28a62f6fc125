"""Prepare the process environment for PyFlink and build execution environments.

Finds a JDK 11+ (JAVA_HOME, then ``java`` on PATH, then the usual install dirs) and
fails with a clear message when none is found; pins Flink's Python workers to the
running interpreter (``python.executable``/``python.client.executable``) so a job
never picks up an unrelated ``python`` from PATH.
"""
from __future__ import annotations

import glob
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

MIN_JAVA = 11
JVM_DIRS = ("/usr/lib/jvm/*", "/usr/java/*", "/opt/java/*", "/Library/Java/JavaVirtualMachines/*/Contents/Home")


class JavaNotFoundError(RuntimeError):
    """No usable JDK (11 or newer) was found."""


def java_version(java_home: Path) -> int | None:
    java = java_home / "bin" / "java"
    if not java.exists():
        return None
    try:
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major


def find_java_home() -> Path:
    candidates: list[Path] = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]))
    java_on_path = shutil.which("java")
    if java_on_path:
        candidates.append(Path(os.path.realpath(java_on_path)).parent.parent)
    for pattern in JVM_DIRS:
        candidates.extend(Path(p) for p in sorted(glob.glob(pattern), reverse=True))
    seen = []
    for home in candidates:
        if home in seen:
            continue
        seen.append(home)
        v = java_version(home)
        if v is not None and v >= MIN_JAVA:
            return home
    tried = ", ".join(str(s) for s in seen) or "nothing (JAVA_HOME unset, no java on PATH)"
    raise JavaNotFoundError(
        f"PyFlink needs a JDK {MIN_JAVA} or newer; none found. Tried: {tried}. "
        "Install one (e.g. `apt-get install openjdk-17-jdk-headless`) or set JAVA_HOME."
    )


def prepare_process_env() -> Path:
    """Set JAVA_HOME and PATH for the Flink gateway JVM; returns JAVA_HOME."""
    home = find_java_home()
    os.environ["JAVA_HOME"] = str(home)
    # PyFlink's local (loopback) mode runs Python UDF workers inside the client process and
    # marks it PYFLINK_GATEWAY_DISABLED; a job built later in this process, or a child process
    # that inherits the variable, must still be allowed to start its gateway.
    os.environ.pop("PYFLINK_GATEWAY_DISABLED", None)
    # Thread mode embeds CPython through pemja, which locates the interpreter via PATH:
    # put this interpreter's bin dir first so the job runs in this (virtual) environment.
    bin_dir = str(Path(sys.executable).parent)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if not parts or parts[0] != bin_dir:
        os.environ["PATH"] = os.pathsep.join([bin_dir] + [p for p in parts if p != bin_dir])
    return home


def python_conf() -> dict[str, str]:
    return {"python.executable": sys.executable, "python.client.executable": sys.executable}


def guard_planner_threads(t_env) -> None:
    """Give every py4j connection's JVM thread the planner's metadata provider (FLINK-36298,
    not fixed in Flink 2.3.0).

    Calcite keeps the metadata handler provider in a thread-local that Flink's planner sets only
    on the JVM thread that built the planner or converted a SQL query. PyFlink's py4j gateway
    serves each Python-side connection on its own JVM thread and opens another one whenever two
    Python threads call at once (a second thread, a Java reference garbage-collected on another
    thread), and later calls may go out on either. A planner call (``to_data_stream``,
    ``execute``) that lands on a thread that never had the provider fails with
    ``NullPointerException: metadataHandlerProvider``. This sets it on each connection's thread
    before that connection's first command from now on (installed once per gateway). Where
    the planner's classes are not as expected, it logs a warning and leaves the gateway as it was.
    """
    try:
        _guard_planner_threads(t_env)
    except Exception as exc:  # a workaround must never stop a job from starting
        logging.getLogger(__name__).warning("planner thread guard not installed (%s): a planner call may fail "
                                            "with 'metadataHandlerProvider' (FLINK-36298)", exc)


def _guard_planner_threads(t_env) -> None:
    from py4j import protocol as proto
    from pyflink.java_gateway import get_gateway

    gw = get_gateway()
    client = gw._gateway_client
    if getattr(client, "_recstream_planner_guard", False):
        return
    jvm = gw.jvm
    loader = t_env._j_tenv.getPlanner().getClass().getClassLoader()

    def cls(name):
        return jvm.java.lang.Class.forName(name, True, loader)

    def array(kind, items):
        arr = gw.new_array(kind, len(items))
        for i, item in enumerate(items):
            arr[i] = item
        return arr

    query_base = cls("org.apache.calcite.rel.metadata.RelMetadataQueryBase")
    thread_providers = query_base.getField("THREAD_PROVIDERS").get(None)
    provider = (cls("org.apache.flink.table.planner.plan.metadata.FlinkDefaultRelMetadataProvider")
                .getMethod("INSTANCE", array(jvm.java.lang.Class, [])).invoke(None, array(jvm.java.lang.Object, [])))
    janino = (cls("org.apache.calcite.rel.metadata.JaninoRelMetadataProvider")
              .getMethod("of", array(jvm.java.lang.Class, [cls("org.apache.calcite.rel.metadata.RelMetadataProvider")]))
              .invoke(None, array(jvm.java.lang.Object, [provider])))
    # thread_providers.set(janino) as a raw command, sent down one chosen connection
    command = (proto.CALL_COMMAND_NAME + thread_providers._target_id + "\n" + "set" + "\n"
               + proto.get_command_part(janino, client.gateway_property.pool) + proto.END_COMMAND_PART)

    def seed(connection) -> None:
        answer = connection.send_command(command)
        proto.get_return_value(answer, client)  # raises if the JVM refused

    get = client._get_connection

    def get_seeded():
        # every connection, whenever it was opened, is seeded before its first command after this
        connection = get()
        if not getattr(connection, "_recstream_seeded", False):
            connection._recstream_seeded = True
            try:
                seed(connection)
            except Exception:
                client._give_back_connection(connection)
                raise
        return connection

    client._get_connection = get_seeded
    # the Java objects the command names must outlive it on the gateway
    client._recstream_planner_guard = (thread_providers, janino)
