"""Prepare the process environment for PyFlink and build execution environments.

Finds a JDK 11+ (JAVA_HOME, then ``java`` on PATH, then the usual install dirs) and
fails with a clear message when none is found; pins Flink's Python workers to the
running interpreter (``python.executable``/``python.client.executable``) so a job
never picks up an unrelated ``python`` from PATH.
"""
from __future__ import annotations

import glob
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
