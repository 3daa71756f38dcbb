"""What every config-driven command shares: resolving the config and describing its fields.

Commands take ``--config FILE`` plus any config field as ``--name value`` (flat or dotted, ``_``
or ``-``). The fields are never declared as options a second time: they are parsed by
:func:`unet1d.config_sources.load_config`, and listed in ``--help`` from the pydantic model itself.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args, get_origin

import typer

from unet1d.config import RESUMABLE_FIELDS, SECTIONS, Config
from unet1d.config_sources import env_overrides, load_config

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

# Let unknown `--field value` tokens through to our own parser instead of click's.
CONFIG_COMMAND = {"allow_extra_args": True, "ignore_unknown_options": True}

ConfigFileOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML config file (sections or flat field names).", show_default=False),
]


def command_group(help: str) -> typer.Typer:
    """A sub-app for ``unet1d <group> ...``: plain click help (fast, no rich) and no completion."""
    return typer.Typer(help=help, no_args_is_help=True, add_completion=False, rich_markup_mode=None)


def resolve_config(config_file: Path | None, args: list[str]) -> Config:
    """defaults < YAML < UNET1D_* environment < these ``--field value`` args."""
    return load_config(config_file, args)


def check_environment() -> None:
    """A ``UNET1D_*`` variable naming no config field is an error for the commands that read a run's config too
    (sample, complete, denoise): a misspelt one did nothing there, without a word."""
    env_overrides(os.environ)


def _type_name(annotation: Any) -> str:
    """``Literal['conv', 'attention']`` -> ``conv|attention``; ``int | None`` -> ``int|null``."""
    args = get_args(annotation)
    if get_origin(annotation) is Literal:
        return "|".join(map(str, args))
    if args and get_origin(annotation) is not list:
        return "|".join(_type_name(arg) for arg in args)
    if annotation is type(None):
        return "null"
    return str(annotation) if get_origin(annotation) is list else annotation.__name__


def _bounds(info: FieldInfo) -> str:
    """`` (0 <= x < 1)``, `` (x > 0)``: the field's numeric limits as its validator holds them, or nothing."""
    lower = upper = None
    for limit in info.metadata:
        for attribute, side in (("ge", "<="), ("gt", "<"), ("le", "<="), ("lt", "<")):
            value = getattr(limit, attribute, None)
            if value is not None:
                shown = f"{value:g}" if isinstance(value, float) else str(value)
                if attribute in ("ge", "gt"):
                    lower = (shown, side)
                else:
                    upper = (side, shown)
    if lower and upper:
        return f" ({lower[0]} {lower[1]} x {upper[0]} {upper[1]})"
    if lower:
        return f" (x {lower[1].replace('<', '>')} {lower[0]})"
    return f" (x {upper[0]} {upper[1]})" if upper else ""


def fields_help(sections: list[str] | None = None) -> str:
    """Help epilog: every config field with its type, default and description, grouped by section.

    ``\\b`` keeps click from re-wrapping the block into one paragraph.
    """
    lines = [
        "Config fields: give any as --name VALUE, --name=VALUE, --section.name VALUE",
        "(- or _ alike), in a --config YAML file, or as UNET1D_NAME environment variables.",
    ]
    for section, cls in SECTIONS.items():
        if sections is not None and section not in sections:
            continue
        lines.append(f"\b\n{section}:")
        for name, info in cls.model_fields.items():
            shown = "null" if info.default is None else info.default
            lines.append(f"  --{name} {_type_name(info.annotation)} [{shown}]{_bounds(info)}  {info.description or ''}")
    if sections is None or "train" in sections:
        resumable = ", ".join(sorted(name.split(".")[1] for name in RESUMABLE_FIELDS))
        wrapped = textwrap.fill(resumable, 100, initial_indent="  ", subsequent_indent="  ")
        lines.append(f"\b\nWith --resume, the run's stored config is the base; only these may differ:\n{wrapped}")
    return "\n".join(lines[:2]) + "\n\n" + "\n".join(lines[2:])
