"""Build a frozen extractor/training config from three layers: defaults, a YAML section, flags.

Only ``cli.py`` reads YAML; it passes the parsed section here. Unknown keys are an error, as in
nanoGPT's ``Unknown config key``; values are coerced to the field's type where unambiguous.
"""

from __future__ import annotations

import dataclasses
import typing
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
    return value


def layer_config(config_type: type, *layers: dict[str, Any] | None) -> Any:
    """Defaults of ``config_type`` overridden by each layer in turn (None values are 'not given')."""
    fields = {f.name: f for f in dataclasses.fields(config_type)}
    hints = typing.get_type_hints(config_type)
    values: dict[str, Any] = {}
    for layer in layers:
        for key, value in (layer or {}).items():
            if value is None:
                continue
            name = key.replace("-", "_")
            if name not in fields:
                raise ConfigError(f"unknown config key '{key}' for {config_type.__name__}. "
                                  f"Known keys: {', '.join(sorted(fields))}.")
            values[name] = _coerce(value, hints[name], key)
    try:
        return config_type(**values)
    except TypeError as e:
        raise ConfigError(f"{config_type.__name__}: {e}") from e


def parse_set_options(items: list[str] | None) -> dict[str, str]:
    """``--set key=value`` pairs from the command line."""
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--set '{item}': expected KEY=VALUE, e.g. --set h_freq=40")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out
