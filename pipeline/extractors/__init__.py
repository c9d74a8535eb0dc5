"""Importing this package registers every built-in extractor, then the installed plugins'."""

import importlib

from pipeline.extractors.base import (  # noqa: F401
    BaseExtractor,
    Extractor,
    FeatureArrays,
    get_extractor,
    plugin_failures,
    register_extractor,
    registered_extractors,
)


# Each module registers itself on import; heavy libraries (transformers, torch) are imported
# lazily inside the extractors, so importing the registry stays cheap.
for _module in ("eeg_extractor", "eeg_bands_extractor", "ecg_extractor", "audio_extractor", "video_extractor",
                "speech_extractor", "vate_extractor"):
    importlib.import_module(f"pipeline.extractors.{_module}")

# Third-party extractors last: a broken or clashing plugin is logged and skipped (see plugins.py).
from pipeline.extractors.plugins import load_plugins  # noqa: E402

load_plugins()
