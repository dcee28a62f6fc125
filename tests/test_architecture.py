"""The import contracts of pyproject.toml ([tool.importlinter]): the layers hold, and every module of
the shipped packages sits in a layer, so a new module or a new back-edge fails here."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

grimp = pytest.importorskip("grimp", reason="import-linter (and grimp) are in the test extra")
importlinter_api = pytest.importorskip("importlinter.api", reason="import-linter is in the test extra")

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("recstream", "udfs", "flink_jobs", "model_export", "schemas")


def _contracts() -> dict[str, dict]:
    cfg = importlinter_api.read_configuration(str(ROOT / "pyproject.toml"))
    return {c["id"]: c for c in cfg["contracts_options"]}


def test_import_contracts_hold():
    lint = Path(sys.executable).parent / "lint-imports"
    out = subprocess.run([str(lint), "--no-cache", "--config", "pyproject.toml"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"Contracts: \d+ kept, 0 broken", out.stdout), out.stdout


def test_every_shipped_module_is_in_a_layer():
    layers = _contracts()["layers"]["layers"]
    placed = {m.strip().strip("()") for layer in layers for m in re.split(r"[|:]", layer) if m.strip()}
    graph = grimp.build_graph(*SHIPPED, cache_dir=None)
    packages_only = {"recstream", "udfs", "model_export"}  # their __init__ imports nothing of the project
    unplaced = sorted(m for m in graph.modules
                      if m not in packages_only and not any(m == p or m.startswith(p + ".") for p in placed))
    assert not unplaced, f"put these modules in a layer of [tool.importlinter] in pyproject.toml: {unplaced}"
    for pkg in packages_only:
        assert not graph.find_modules_directly_imported_by(pkg), pkg


def test_imports_inside_functions_are_seen():
    """Many project imports sit inside functions; the contracts must see them too."""
    graph = grimp.build_graph("recstream", "model_export", cache_dir=None)
    # recstream.cli.model imports model_export.cli only inside register()
    assert "model_export.cli" in graph.find_modules_directly_imported_by("recstream.cli.model")
