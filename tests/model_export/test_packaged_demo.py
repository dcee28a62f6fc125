"""The demo model shipped for the default pipeline is loadable without torch and fits the default stream."""
import json
import subprocess
import sys

from recstream.config import load_config
from recstream.replay import source_lines


def test_packaged_demo_model_loads_without_torch_and_knows_the_default_items():
    code = (
        "import sys, json; from recstream.config import load_config; from udfs.inference import Scorer;"
        "s = Scorer.load(load_config().model.path, 'cpu'); print(json.dumps([s.model.version, s.model.n_items,"
        " 'torch' in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    version, n_items, torch_loaded = json.loads(out.stdout)
    assert not torch_loaded and n_items > 100
    cfg = load_config()
    vocab = set(json.loads((cfg.model.path / "vocab.json").read_text())["item_ids"])
    items = set()
    for line in source_lines(cfg):
        try:
            items.add(json.loads(line)["item_id"])
        except (ValueError, KeyError, TypeError):
            pass
    assert len(items & vocab) / len(items) > 0.9
