"""Machine and version facts recorded with every result: benchmarks (``bench/results/*.json``,
:func:`benchmark_machine_info`) and model evaluations (:func:`machine_info`, the ``machine`` of
``recstream evaluate`` results). One place gathers them; the two records keep their own keys, which
results already written use."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata

BENCH_PACKAGES = ("apache-flink", "numpy", "onnxruntime-gpu", "onnxruntime", "onnx", "torch", "pyarrow", "pandas",
                  "recstream")


def package_version(pkg: str) -> str | None:
    """The installed distribution's version, None when it is not installed."""
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def mem_gib() -> float | None:
    try:
        with open("/proc/meminfo") as fh:
            return round(int(fh.readline().split()[1]) / 1024 / 1024, 1)
    except OSError:
        return None


def java_version() -> str | None:
    """First line of ``java -version`` for the JDK the job would use, None without one."""
    try:
        from recstream.flink_env import find_java_home

        out = subprocess.run([str(find_java_home() / "bin" / "java"), "-version"], capture_output=True, text=True)
        return out.stderr.splitlines()[0]
    except Exception:
        return None


def load_average() -> list[float] | None:
    # other work on a shared box inflates timings; record the load when measured
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def benchmark_machine_info() -> dict:
    """The ``machine`` record of a benchmark result (``bench/machine.py``)."""
    load = load_average()
    return {
        "cpu": cpu_model(), "cores": os.cpu_count(), "mem_gib": mem_gib(), "platform": platform.platform(),
        "load_avg_at_start": tuple(load) if load else None, "python": sys.version.split()[0], "java": java_version(),
        "versions": {p: package_version(p) for p in BENCH_PACKAGES},
    }


def machine_info() -> dict:
    """The ``machine`` record of a model evaluation: CPU, load, torch (threads, CUDA device), onnxruntime, numpy."""
    info = {
        "cpu_model": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_1m_5m_15m": load_average(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        info["torch"] = None
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        info["onnxruntime"] = None
    import numpy

    info["numpy"] = numpy.__version__
    return info
