"""Importing this package registers every built-in extractor."""

import importlib
import logging

from pipeline.extractors.base import (  # noqa: F401
    BaseExtractor,
    Extractor,
    FeatureArrays,
    get_extractor,
    register_extractor,
    registered_extractors,
)

_log = logging.getLogger(__name__)

# Each module registers itself on import. A module whose heavy optional dependency is missing is
# skipped with a log line, so the rest of the registry still works.
for _module in ("eeg", "ecg", "audio", "video"):
    try:
        importlib.import_module(f"pipeline.extractors.{_module}")
    except ModuleNotFoundError as _e:
        if _e.name == f"pipeline.extractors.{_module}":
            continue  # not written yet
        raise
