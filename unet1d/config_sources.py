"""Where config values come from and which wins: defaults < YAML file < environment < command line.

Sources, in rising precedence: defaults < YAML file < environment (``UNET1D_<FIELD>``) <
command line. Each source yields (dotted path, value, source) triples; :func:`build_config`
validates them against the schema in :mod:`unet1d.config`, naming the source of every bad value.
Nothing here imports torch, so ``--help`` stays fast.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from pydantic import ValidationError

from unet1d.config import FIELD_PATHS, SECTIONS, STORED_BEFORE, YAML_END, Config, cut_short
from unet1d.errors import ConfigError

ENV_PREFIX = "UNET1D_"
# The project's own variables that are no config fields: the images' (deploy/compose.yaml, docker/check.sh) and
# the fault tests' seed. A user's shell holds them while running commands; every other UNET1D_ name is a field.
NOT_FIELDS = frozenset({"UNET1D_IMAGE", "UNET1D_IMAGE_CACHE", "UNET1D_FAULTS_SEED"})
NULL_WORDS = {"none", "null", "~", ""}


def all_field_names() -> list[str]:
    """Every name a user may write: flat and dotted."""
    return [*FIELD_PATHS, *(f"{s}.{f}" for s, f in FIELD_PATHS.values())]


def resolve_name(name: str) -> tuple[str, str]:
    """Map ``mid_num_heads`` / ``mid-num-heads`` / ``model.mid_num_heads`` to its (section, field)."""
    key = name.strip().replace("-", "_")
    if "." in key:
        section, _, field = key.partition(".")
        if section in SECTIONS and field in SECTIONS[section].model_fields:
            return section, field
    elif key in FIELD_PATHS:
        return FIELD_PATHS[key]
    raise ConfigError(f"unknown config field {name!r}{_suggest(key)}")


def _resolve_from(name: str, origin: str) -> tuple[str, str]:
    """:func:`resolve_name`, with the file or variable the name came from in any error."""
    try:
        return resolve_name(name)
    except ConfigError as err:
        raise ConfigError(f"{origin}: {err}") from None


def _suggest(key: str) -> str:
    _, dot, field = key.rpartition(".")
    if dot and field in FIELD_PATHS:  # a field under the wrong section: model.lr -> optim.lr
        return f"; did you mean {'.'.join(FIELD_PATHS[field])!r}?"
    close = difflib.get_close_matches(key, all_field_names(), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else "; `unet1d config show` lists every field"


def _annotation(section: str, field: str) -> Any:
    return SECTIONS[section].model_fields[field].annotation


def _is_optional(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, getattr(__import__("types"), "UnionType", Union)) and type(
        None
    ) in get_args(annotation)


def _is_list(annotation: Any) -> bool:
    inner = [a for a in get_args(annotation) if a is not type(None)] if _is_optional(annotation) else [annotation]
    return any(get_origin(a) in (list, tuple) for a in inner)


def parse_text_value(section: str, field: str, text: str) -> Any:
    """Turn a command-line or environment string into what pydantic should validate.

    Lists come as ``[1, 2, 4]`` or ``1,2,4`` (``wandb agent`` sends the former); ``None``/``null``
    means null for optional fields; everything else stays a string for pydantic to coerce, so a
    string field never turns into a number by accident.
    """
    annotation = _annotation(section, field)
    stripped = text.strip()
    if _is_optional(annotation) and stripped.lower() in NULL_WORDS:
        return None
    if _is_list(annotation):
        body = stripped[1:-1] if stripped.startswith("[") and stripped.endswith("]") else stripped
        return [part.strip() for part in body.split(",") if part.strip()]
    return stripped


def parse_overrides(args: list[str]) -> list[tuple[str, str, str]]:
    """Parse ``--name value`` / ``--name=value`` tokens into (dotted path, raw value, source flag)."""
    parsed: list[tuple[str, str, str]] = []
    index = 0
    while index < len(args):
        token = args[index]
        if not token.startswith("--") or token == "--":
            raise ConfigError(f"unexpected argument {token!r}; config fields are given as --name value or --name=value")
        name, eq, value = token[2:].partition("=")
        if not eq:
            if index + 1 >= len(args) or args[index + 1].startswith("--"):
                section, field = resolve_name(name)
                if _annotation(section, field) is bool:  # a bare --flag means true
                    value = "true"
                else:
                    raise ConfigError(f"--{name} needs a value, e.g. --{name}=VALUE")
            else:
                index += 1
                value = args[index]
        section, field = resolve_name(name)
        parsed.append((f"{section}.{field}", value, f"--{name}"))
        index += 1
    return parsed


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML config; sections may be nested (``model: {mid_num_heads: 8}``) or flat names."""
    import yaml

    if path.is_dir():
        raise ConfigError(f"config file {str(path)!r} is a folder; give the YAML file")
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte 0x{err.object[err.start]:02x} at offset {err.start}); save it as UTF-8"
        ) from None
    if cut_short(text):
        raise ConfigError(
            f"{path}: cut short (the config unet1d wrote ends with {YAML_END.strip()!r}), so fields may be missing; "
            "if you cut it yourself, delete its first line"
        )
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"{path}: YAML syntax error{where}: {problem}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping of config fields, got {type(loaded).__name__}")
    if values_beyond(loaded, MAX_YAML_VALUES):
        raise ConfigError(
            f"{path}: more than {MAX_YAML_VALUES:,} values (counting what its aliases, *name, expand to); a config "
            "or sweep holds a few hundred"
        )
    return loaded


MAX_YAML_VALUES = 100_000  # a YAML "billion laughs" (aliases of aliases) reads as a few lines, expands to gigabytes


def values_beyond(data: Any, limit: int) -> bool:
    """Whether ``data`` (nested lists and dicts, shared ones counted each time they appear) holds more than
    ``limit`` values; stops counting there, so an alias bomb costs no more than ``limit`` steps."""
    pending, seen = [data], 0
    while pending:
        item = pending.pop()
        seen += 1
        if seen > limit:
            return True
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _flatten_yaml(data: Mapping[str, Any], origin: str) -> list[tuple[str, Any, str]]:
    """Nested sections (``model: {mid_num_heads: 8}``) or flat/dotted names -> (path, value, source)."""
    items: list[tuple[str, Any, str]] = []
    for key, value in data.items():
        key = str(key)
        # `data` is both a section and a field: a mapping means the section.
        names = (
            [(f"{key}.{sub_key}", sub_value) for sub_key, sub_value in value.items()]
            if key in SECTIONS and isinstance(value, Mapping)
            else [(key, value)]
        )
        for name, item in names:
            section, field = _resolve_from(name, origin)
            path = f"{section}.{field}"
            twice = next((source for known, _, source in items if known == path), None)
            if twice is not None:  # nested and flat spellings of one field: which one wins would be a guess
                raise ConfigError(f"{origin} sets {path} twice: as {twice.partition(' (')[2][:-1]} and as {name}")
            if isinstance(item, str) and _is_list(_annotation(section, field)):  # `1,2,4`, as on the command line
                item = parse_text_value(section, field, item)
            items.append((path, item, f"{origin} ({name})"))
    return items


def env_overrides(environ: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """``UNET1D_MID_NUM_HEADS=8`` or ``UNET1D_MODEL__MID_NUM_HEADS=8``; unknown names are errors, bar
    :data:`NOT_FIELDS`."""
    items = []
    for var, value in environ.items():
        if not var.startswith(ENV_PREFIX) or var in NOT_FIELDS:
            continue
        name = var[len(ENV_PREFIX) :].lower().replace("__", ".")
        section, field = _resolve_from(name, f"environment variable {var}")
        items.append((f"{section}.{field}", value, f"environment variable {var}"))
    return items


def load_config(
    config_file: str | Path | None = None,
    overrides: list[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Resolve defaults < YAML < environment < command line into one validated :class:`Config`.

    Raises :class:`ConfigError` naming the field, the bad value, where it came from and what
    is allowed.
    """
    env = os.environ if environ is None else environ
    return expand_output_dir(build_config(given_values(config_file, overrides, env)), env)


def given_values(
    config_file: str | Path | None, overrides: list[str] | None, environ: Mapping[str, str]
) -> list[tuple[str, Any, str]]:
    """(dotted path, value, source) of every field set by the YAML file, environment and flags, in precedence order."""
    layered: list[tuple[str, Any, str]] = []
    if config_file is not None:
        path = Path(config_file)
        layered += _flatten_yaml(read_yaml(path), str(path))
    layered += [(p, parse_text_value(*p.split("."), v), s) for p, v, s in env_overrides(environ)]
    layered += [(p, parse_text_value(*p.split("."), v), s) for p, v, s in parse_overrides(overrides or [])]
    return layered


# Placeholders in train.output_dir, filled from what `wandb agent` sets for each run, so every
# sweep run (and its requeued resumption) gets a folder of its own.
OUTPUT_DIR_PLACEHOLDERS = {"run_id": "WANDB_RUN_ID", "sweep_id": "WANDB_SWEEP_ID"}


def expand_output_dir(config: Config, environ: Mapping[str, str]) -> Config:
    """Fill ``{run_id}`` / ``{sweep_id}`` in ``train.output_dir`` ('local' outside a W&B agent)."""
    text = str(config.train.output_dir)
    if "{" not in text:
        return config
    values = {name: environ.get(var) or "local" for name, var in OUTPUT_DIR_PLACEHOLDERS.items()}
    try:
        expanded = text.format(**values)
    except (KeyError, IndexError, ValueError) as err:
        allowed = ", ".join("{" + name + "}" for name in OUTPUT_DIR_PLACEHOLDERS)
        raise ConfigError(f"train.output_dir={text!r}: unknown placeholder {err}; allowed: {allowed}") from None
    config.train.output_dir = Path(expanded)
    return config


def build_config(layered: Iterable[tuple[str, Any, str]]) -> Config:
    """Validate (dotted path, value, source) triples, later ones winning."""
    nested, sources = _nest(layered)
    try:
        return Config.model_validate(nested)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, nested, sources)) from None


def build_section(layered: Iterable[tuple[str, Any, str]], name: str) -> Any:
    """One section of :func:`build_config` alone (what `data check` reads): the other sections' values, and the
    checks between sections, are left out."""
    nested, sources = _nest(layered)
    try:
        return SECTIONS[name].model_validate(nested.get(name, {}))
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, nested, sources, section=name)) from None


def _nest(layered: Iterable[tuple[str, Any, str]]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """{section: {field: value}} and {dotted path: source}, later triples winning."""
    nested: dict[str, dict[str, Any]] = {}
    sources: dict[str, str] = {}
    for path, value, source in layered:
        section, field = path.split(".")
        nested.setdefault(section, {})[field] = value
        sources[path] = source
    return nested, sources


def format_validation_error(
    err: ValidationError,
    nested: Mapping[str, Mapping[str, Any]],
    sources: Mapping[str, str],
    section: str | None = None,
) -> str:
    """One line per problem: ``model.mid_num_heads=7 (from --mid_num_heads): <what is allowed>`` (``section``:
    the one an error of a lone section's model is in)."""
    lines = []
    quoted: dict[str, str] = {}  # each field's value quoted once: a list's bad items each name the whole list
    for problem in err.errors(include_url=False):
        loc = [*([section] if section else []), *(str(part) for part in problem["loc"])]
        message = problem["msg"].removeprefix("Value error, ")
        if len(loc) >= 2 and loc[0] in SECTIONS:
            path = f"{loc[0]}.{loc[1]}"
            if path not in quoted:
                quoted[path] = shortened(repr(nested.get(loc[0], {}).get(loc[1], problem.get("input"))))
            origin = f" (from {sources[path]})" if path in sources else ""
            lines.append(f"{path}={quoted[path]}{origin}: {message}")
        elif len(loc) == 1 and loc[0] in SECTIONS:
            given = list(dict.fromkeys(sources[p] for p in sources if p.startswith(loc[0] + ".")))  # each source once
            origin = f" (set by {', '.join(given)})" if given else ""
            lines.append(f"{loc[0]}: {message}{origin}")
        else:
            lines.append(message)
    lines = list(dict.fromkeys(lines))  # one line per field: a list's bad items each gave the same one
    return "invalid configuration:\n  " + "\n  ".join(lines) if len(lines) > 1 else "invalid configuration: " + lines[0]


def shortened(text: str, limit: int = 200) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis: an error line quotes a value, not a whole file's worth."""
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def config_from_dict(data: Mapping[str, Any], origin: str = "checkpoint") -> Config:
    """Rebuild a config stored as a nested dict (checkpoints, W&B run configs); see :data:`STORED_BEFORE`."""
    layered = _flatten_yaml(data, origin)
    stored = {path for path, _, _ in layered}
    legacy = [(path, value, f"{origin} (stored before {path} existed)") for path, value in STORED_BEFORE.items()]
    return build_config([item for item in legacy if item[0] not in stored] + layered)


def with_overrides(
    config: Config, args: list[str], origin: str = "checkpoint", environ: list[tuple[str, str, str]] = ()
) -> Config:
    """``config`` with ``environ`` (:func:`env_overrides`' items) and ``--name value`` command-line overrides on
    top, in that order, validated as one config."""
    layered = _flatten_yaml(config.model_dump(mode="json"), origin)
    layered += [(p, parse_text_value(*p.split("."), v), s) for p, v, s in [*environ, *parse_overrides(args)]]
    return build_config(layered)
