"""Machine and version facts recorded with every benchmark result (gathered in
:mod:`model_export.machine`, which ``recstream evaluate`` uses too)."""
from __future__ import annotations

from model_export.machine import benchmark_machine_info as machine_info, package_version as _version

__all__ = ["machine_info", "_version"]
