"""docs/configuration.md: the generated reference is what the config models give, and the hand-written
table of main keys names only keys that exist."""
from __future__ import annotations

import re

from recstream.config import load_config
from tools import config_reference as ref

KEYS = [key for key, _, _ in ref.leaves(load_config([], []))]


def test_committed_reference_matches_the_config_models():
    text = ref.PAGE.read_text()
    assert ref.render(text) == text, "docs/configuration.md is stale: run `python -m tools.config_reference`"


def test_every_leaf_key_is_documented():
    text = ref.PAGE.read_text()
    assert len(KEYS) > 150
    assert [k for k in KEYS if f"| `{k}` |" not in text] == []


def test_main_keys_table_names_existing_keys():
    text = ref.PAGE.read_text()
    table = text.split("## Main keys", 1)[1].split("\n## ", 1)[0]
    named = []
    for row in (line for line in table.splitlines() if line.startswith("| `")):
        for token in re.findall(r"`([a-z_.{},*]+)`", row.split("|")[1]):
            stem, _, group = token.partition("{")
            group, _, tail = group.partition("}")
            names = [stem + g + tail for g in group.split(",")] if group else [token.removesuffix(".*")]
            named += [n for n in names if "." in n]
    assert len(named) > 25
    assert [n for n in named if not any(k == n or k.startswith(n + ".") for k in KEYS)] == []


def test_types_and_defaults_render_without_the_checkout_path():
    rows = {line.split("|")[1].strip(): line for line in ref.reference().splitlines() if line.startswith("| `")}
    assert "| `model_export/demo` |" in rows["`model.path`"]  # the packaged model, relative to the checkout
    assert "`sqlite` \\| `cassandra`" in rows["`store.kind`"]
    assert "int (≥ 1)" in rows["`job.parallelism`"]


def test_every_renamed_and_removed_key_is_in_the_table():
    from recstream.config.loader import REMOVED, RENAMED

    text = ref.PAGE.read_text()
    table = text.split("## Renamed and removed keys", 1)[1].split("## Reference", 1)[0]
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in table.splitlines()
            if line.startswith("| `")}
    assert {old: new.split(" (")[0] for old, new in rows.items() if not new.startswith("removed")} == \
        {f"`{old}`": f"`{new}`" for old, new in RENAMED.items()}
    assert {old for old, new in rows.items() if new.startswith("removed")} == {f"`{old}`" for old in REMOVED}
