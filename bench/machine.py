"""Machine and version facts recorded with every benchmark result."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gib = None
    try:
        with open("/proc/meminfo") as fh:
            mem_gib = round(int(fh.readline().split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    java = None
    try:
        from recstream.flink_env import find_java_home

        out = subprocess.run([str(find_java_home() / "bin" / "java"), "-version"], capture_output=True, text=True)
        java = out.stderr.splitlines()[0]
    except Exception:
        pass
    return {
        "cpu": cpu, "cores": os.cpu_count(), "mem_gib": mem_gib, "platform": platform.platform(),
        "load_avg_at_start": os.getloadavg(), "python": sys.version.split()[0], "java": java,
        "versions": {p: _version(p) for p in ("apache-flink", "numpy", "onnxruntime-gpu", "onnxruntime", "onnx",
                                              "torch", "pyarrow", "pandas", "recstream")},
    }
