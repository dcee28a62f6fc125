"""The configuration reference of docs/configuration.md, generated from the pydantic config models:
every leaf key with its type, its default (the value ``load_config()`` gives) and its description.

    python -m tools.config_reference          # rewrite the reference block of docs/configuration.md

tests/tools/test_config_reference.py checks that the committed page is what the models give, so a key
added, renamed or re-defaulted shows up in review as a change of the page.
"""
from __future__ import annotations

import json
import types
import typing
from pathlib import Path

from pydantic import BaseModel

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "configuration.md"
BEGIN, END = "<!-- reference:begin -->", "<!-- reference:end -->"


def _type_name(tp) -> str:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        return " \\| ".join(names) + (" \\| none" if type(None) in args else "")
    if origin in (list, tuple):
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"map {_type_name(args[0])} → {_type_name(args[1])}" if args else "map"
    if tp is Path:
        return "path"
    return getattr(tp, "__name__", str(tp))


def _bounds(field) -> str:
    words = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
    out = []
    for m in field.metadata:
        for attr, sign in words.items():
            v = getattr(m, attr, None)
            if v is not None:
                out.append(f"{sign} {v:,}" if isinstance(v, int) else f"{sign} {v}")
    return ", ".join(out)


def _default(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, Path):
        if value.is_absolute():
            try:
                value = value.relative_to(REPO)  # the packaged demo model, in a source checkout
            except ValueError:
                pass
        return f"`{value}`"
    if isinstance(value, (dict, list, tuple)):
        return f"`{json.dumps(value, default=str)}`" if value else ("`{}`" if isinstance(value, dict) else "`[]`")
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _section_value(field, value):
    """The section model of a field: its value, or for an optional section that is unset (None) the
    section's defaults; None for a leaf."""
    if isinstance(value, BaseModel):
        return value
    if value is None:
        for tp in typing.get_args(field.annotation):
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                return tp.model_construct()
    return None


def leaves(model: BaseModel, prefix: str = ""):
    """(key, field, value) for every leaf key of a config model instance, in declaration order."""
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        section = _section_value(field, value)
        if section is not None:
            yield from leaves(section, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", field, value


def sections(model: BaseModel, prefix: str = ""):
    """(section key, model, unset) for every section, depth first; ``unset``: an optional section
    that is off (None) unless set."""
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        section = _section_value(field, value)
        if section is not None:
            yield f"{prefix}{name}", section, value is None
            yield from sections(section, f"{prefix}{name}.")


def reference() -> str:
    from recstream.config import load_config

    cfg = load_config([], [])
    parts = []
    for key, section, unset in sections(cfg):
        own = [(k, f, v) for k, f, v in leaves(section, key + ".") if k.count(".") == key.count(".") + 1]
        if not own:
            continue
        doc = type(section).__doc__
        parts.append(f"### `{key}`\n")
        if unset:
            parts.append(f"Optional: unset (`{key}` is null) unless given; these are its defaults when it is.\n")
        if doc and doc is not BaseModel.__doc__:
            parts.append(_cell(doc) + "\n")
        parts.append("| key | type | default | description |\n|---|---|---|---|")
        for k, field, value in own:
            kind = _type_name(field.annotation)
            bounds = _bounds(field)
            parts.append(f"| `{k}` | {kind}{f' ({bounds})' if bounds else ''} | {_cell(_default(value))} | "
                         f"{_cell(field.description or '')} |")
        parts.append("")
    return "\n".join(parts).rstrip()


def render(text: str) -> str:
    """``text`` with the block between the markers replaced by the generated reference."""
    if BEGIN not in text or END not in text:
        raise ValueError(f"{BEGIN} ... {END} not found")
    head, rest = text.split(BEGIN, 1)
    return f"{head}{BEGIN}\n{reference()}\n{END}{rest.split(END, 1)[1]}"


def main() -> None:
    text = PAGE.read_text()
    new = render(text)
    if new != text:
        PAGE.write_text(new)
    print(f"{PAGE.relative_to(REPO)}: {'rewritten' if new != text else 'unchanged'}")


if __name__ == "__main__":
    main()
