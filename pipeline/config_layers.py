"""Build a frozen extractor/training config from three layers: defaults, a YAML section, flags.

Only ``cli.py`` reads YAML; it passes the parsed section here. Unknown keys are an error, as in
nanoGPT's ``Unknown config key``; values are coerced to the field's type where unambiguous.

A config may nest frozen sub-configs (``TrainConfig.model`` is a ``FusionConfig``). Its keys are
then dotted paths (``model.d_model``), a leaf name that occurs once in the whole tree
(``d_model``), or a nested mapping (``{"model": {"d_model": 64}}``, as in a saved config.yaml).
This is the one place that maps flat command-line options onto nested configs.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """Turn YAML/CLI text into the field's type (tuples from lists or comma text, bools, numbers)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if value is None:
        return None
    if origin is tuple:
        items = value.split(",") if isinstance(value, str) else list(value)
        if args and args[-1] is not Ellipsis:  # fixed length, e.g. tuple[str, float]: one type per position
            if len(items) != len(args):
                raise ConfigError(f"config key '{key}': expected {len(args)} values, got {value!r}")
            return tuple(_coerce(v, a, key) for v, a in zip(items, args))
        inner = args[0] if args else str
        return tuple(_coerce(v.strip() if isinstance(v, str) else v, inner, key) for v in items if v != "")
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if isinstance(value, str) and value.lower() in ("none", "null") and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key)
            except (ValueError, ConfigError):
                continue
        raise ConfigError(f"config key '{key}': cannot use {value!r} as {hint}")
    if hint is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("1", "true", "yes", "on"):
            return True
        if str(value).lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"config key '{key}': expected true/false, got {value!r}")
    if hint in (int, float):
        try:
            return hint(value)
        except (TypeError, ValueError):
            raise ConfigError(f"config key '{key}': expected a number, got {value!r}") from None
    if hint is str:
        return str(value)
    if hint is Path:
        return Path(value)
    return value


def _sub_config(hint: Any) -> type | None:
    """The dataclass type of a nested sub-config field, else None."""
    return hint if isinstance(hint, type) and dataclasses.is_dataclass(hint) else None


def _leaf_paths(config_type: type, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Every settable field of ``config_type`` and its sub-configs: path -> type hint."""
    out: dict[tuple[str, ...], Any] = {}
    for name, hint in typing.get_type_hints(config_type).items():
        if name not in {f.name for f in dataclasses.fields(config_type)}:
            continue
        sub = _sub_config(hint)
        out.update(_leaf_paths(sub, prefix + (name,)) if sub else {prefix + (name,): hint})
    return out


def _resolve_key(config_type: type, key: str, leaves: dict[tuple[str, ...], Any]) -> tuple[str, ...]:
    """Path of ``key``: a dotted path, or a leaf name that occurs once in the tree."""
    name = key.replace("-", "_")
    path = tuple(name.split("."))
    if path in leaves:
        return path
    matches = [p for p in leaves if len(path) == 1 and p[-1] == name]
    if len(matches) == 1:
        return matches[0]
    known = sorted(".".join(p) for p in leaves)
    if matches:
        raise ConfigError(f"config key '{key}' for {config_type.__name__} is ambiguous: use one of "
                          f"{', '.join('.'.join(p) for p in matches)}.")
    raise ConfigError(f"unknown config key '{key}' for {config_type.__name__}. Known keys: {', '.join(known)}.")


def _flatten(config_type: type, layer: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings under a sub-config's name become dotted keys."""
    hints = typing.get_type_hints(config_type)
    out: dict[str, Any] = {}
    for key, value in layer.items():
        sub = _sub_config(hints.get(str(key).replace("-", "_")))
        if sub is not None and isinstance(value, dict):
            out.update(_flatten(sub, value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _build(config_type: type, values: dict[tuple[str, ...], Any], prefix: tuple[str, ...] = ()) -> Any:
    """Construct ``config_type`` from resolved values, sub-configs first; every sub-config's
    problems are reported together."""
    kw: dict[str, Any] = {}
    problems: list[str] = []
    for name, hint in typing.get_type_hints(config_type).items():
        sub = _sub_config(hint)
        if sub is not None and name in {f.name for f in dataclasses.fields(config_type)}:
            try:
                kw[name] = _build(sub, values, prefix + (name,))
            except ConfigError as e:
                problems.append(str(e))
        elif prefix + (name,) in values:
            kw[name] = values[prefix + (name,)]
    if problems:
        raise ConfigError("; ".join(problems))
    try:
        return config_type(**kw)
    except TypeError as e:
        where = ".".join(prefix) or config_type.__name__
        raise ConfigError(f"{where}: {e}") from e


def layer_config(config_type: type, *layers: dict[str, Any] | None) -> Any:
    """Defaults of ``config_type`` overridden by each layer in turn (None values are 'not given').
    Keys may be dotted paths or unambiguous leaf names of nested sub-configs (see the module doc)."""
    leaves = _leaf_paths(config_type)
    values: dict[tuple[str, ...], Any] = {}
    for layer in layers:
        for key, value in _flatten(config_type, layer or {}).items():
            if value is None:
                continue
            path = _resolve_key(config_type, key, leaves)
            values[path] = _coerce(value, leaves[path], key)
    return _build(config_type, values)


def parse_set_options(items: list[str] | None) -> dict[str, str]:
    """``--set key=value`` pairs from the command line."""
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--set '{item}': expected KEY=VALUE, e.g. --set h_freq=40")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out
