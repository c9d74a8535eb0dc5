"""eegavi stage one: the feature cache and what reads it.

The public API for notebooks and other frameworks (stage two and ``cli.py`` use the same):

    from pipeline import open_cache
    view = open_cache("data_manifest.yaml")          # or the cache folder / URL
    view.groups()                                     # every extractor group, newest first
    ds = view.dataset("eeg", "s01_t01", "eeg")        # one entry as an xarray.Dataset

The names are imported on first use (PEP 562), so importing any ``pipeline.*`` module (every CLI
command imports ``pipeline.errors``) does not load zarr; none of them imports an extractor, a video
or audio library, or xarray.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {"FeatureCache": "pipeline.cache", "GroupInfo": "pipeline.cache", "CacheView": "pipeline.cache_api",
           "open_cache": "pipeline.cache_api", "CacheError": "pipeline.errors", "PipelineError": "pipeline.errors",
           "FeatureArrays": "pipeline.features", "InputCheck": "pipeline.inputs", "check_inputs": "pipeline.inputs",
           "read_current_group": "pipeline.resolve"}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
