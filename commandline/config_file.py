"""Read one section of a ``--config`` YAML file: the middle layer between defaults and flags.

Only the command line reads YAML; the library receives the parsed mapping.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import ConfigError
from pipeline.yaml_memo import SAFE_LOADER


def read_config_section(path: Path | None, section: str) -> dict[str, Any]:
    """The mapping under ``section`` (eeg, video, train, ...) of ``path``; {} without a file."""
    if path is None:
        return {}
    if not path.exists():
        raise ConfigError(f"{path}: config file not found. Fix --config.")
    try:
        data = yaml.load(path.read_text(), Loader=SAFE_LOADER) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e}). Fix --config.") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections (eeg:, video:, train:, ...).")
    sec = data.get(section, {}) or {}
    if not isinstance(sec, dict):
        raise ConfigError(f"{path}: section '{section}' must be a mapping of config keys.")
    return sec
