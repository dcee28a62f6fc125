"""Every command's --help: flags show no value placeholder, options that take a value show its type."""
from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from recstream.cli import app

runner = CliRunner()


def _commands(cmd, path=()):
    yield path, cmd
    for name, sub in getattr(cmd, "commands", {}).items():
        yield from _commands(sub, path + (name,))


COMMANDS = list(_commands(typer.main.get_command(app)))


def _option_row(text: str, opt: str) -> str:
    """The help row that names ``opt`` (the rich table puts one option per row)."""
    rows = [line for line in text.splitlines()
            if line.startswith("│") and [t for t in line[1:].split() if t != "*"][:1] == [opt]]
    assert rows, f"{opt} not in help:\n{text}"
    return rows[0]


def _labelled(row: str, opt: str) -> bool:
    """Whether a type label (``<int>``, ``<path>``) follows the option's names in its row."""
    after = row.split(opt, 1)[1]
    return re.match(r"\s*(-\w\s+|--[\w-]+\s+)*<", after) is not None


def _help(path) -> str:
    out = runner.invoke(app, [*path, "--help"], terminal_width=200, env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    return out.output


def test_the_cli_has_many_commands_to_check():
    assert len(COMMANDS) > 20 and ("inspect", "dead-letters") in [p for p, _ in COMMANDS]


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p) or "recstream")
def test_flags_have_no_value_placeholder(path):
    cmd = dict(COMMANDS)[path]
    text = _help(path)
    if "─ Options " not in text:  # passes its arguments to an argparse tool (bench): argparse's own help
        pytest.skip("argparse help")
    assert "<bool>" not in text and "list[" not in text
    for param in cmd.params:
        if getattr(param, "hidden", False) or param.param_type_name != "option":
            continue
        long = [o for o in param.opts if o.startswith("--")] or param.opts
        row = _option_row(text, long[0])
        assert _labelled(row, long[0]) != param.is_flag, (path, long[0], row)
    assert not _labelled(_option_row(text, "--help"), "--help")  # every group and command has it


def test_known_labels():
    text = _help(("inspect", "dead-letters"))
    assert "<int" in _option_row(text, "--limit") and "<path>" in _option_row(text, "--store")
    assert "<path>" in _option_row(text, "--config")  # repeatable: the type of one value
    assert not _labelled(_option_row(_help(("run",)), "--json"), "--json")
