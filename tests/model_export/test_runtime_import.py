"""The streaming job imports model_export.runtime; it must not pull in torch."""

import subprocess
import sys


def test_runtime_import_does_not_import_torch():
    code = ("import sys, model_export.runtime; "
            "bad = [m for m in sys.modules if m == 'torch' or m.startswith('torch.')]; "
            "assert not bad, bad; print('ok')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"
