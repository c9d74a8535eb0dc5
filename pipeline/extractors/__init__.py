"""Importing this package registers every built-in extractor."""

import importlib

from pipeline.extractors.base import (  # noqa: F401
    BaseExtractor,
    Extractor,
    FeatureArrays,
    get_extractor,
    register_extractor,
    registered_extractors,
)


# Each module registers itself on import; heavy libraries (transformers, torch) are imported
# lazily inside the extractors, so importing the registry stays cheap.
for _module in ("eeg_extractor", "eeg_bands_extractor", "ecg_extractor", "audio_extractor", "video_extractor"):
    importlib.import_module(f"pipeline.extractors.{_module}")
