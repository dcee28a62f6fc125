"""Help-screen fixes for the ``recstream`` CLI, applied once when :mod:`recstream.cli.app` is imported.

typer's rich help labels every option with its type, flags included, so ``--json <bool>`` and
``--help <bool>`` read as if they took a value, and a repeatable option shows its Python
annotation (``--config <list[Path]>``) although it takes one value per use. Flags get no label;
a repeatable option is labelled with the type of its one value.
"""
from __future__ import annotations

import re

_LIST_LABEL = re.compile(r"^<list\[(.+)\]>(\.\.\.)?$")


def _value_label(label: str | None) -> str | None:
    if label is None:
        return None
    m = _LIST_LABEL.match(label)
    if not m:
        return label
    inner = m.group(1)
    return f"<{'path' if inner == 'Path' else inner}>"


def install() -> None:
    """Patch typer's parameter labels (idempotent; a typer without rich type labels is left alone)."""
    try:
        from typer.core import TyperArgument, TyperOption
    except ImportError:  # pragma: no cover - typer always ships them
        return
    option_label = getattr(TyperOption, "display_type_rich", None)
    argument_label = getattr(TyperArgument, "display_type_rich", None)
    if option_label is None or argument_label is None or getattr(option_label, "_recstream", False):
        return

    def option_display(self, ctx):
        if self.is_flag or self.count:
            return None
        return _value_label(option_label(self, ctx))

    def argument_display(self, ctx):
        label = argument_label(self, ctx)
        if label is None or self.nargs == 1:
            return label
        return f"{_value_label(label)}..."  # any number of values

    option_display._recstream = True
    TyperOption.display_type_rich = option_display
    TyperArgument.display_type_rich = argument_display
