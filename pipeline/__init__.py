"""eegavi stage one: the feature cache and what reads it.

The public API for notebooks and other frameworks (stage two and ``cli.py`` use the same):

    from pipeline import open_cache
    view = open_cache("data_manifest.yaml")          # or the cache folder / URL
    view.groups()                                     # every extractor group, newest first
    ds = view.dataset("eeg", "s01_t01", "eeg")        # one entry as an xarray.Dataset

Importing this package imports no extractor, no video or audio library and no xarray.
"""

from pipeline.cache import FeatureCache, GroupInfo
from pipeline.cache_api import CacheView, open_cache
from pipeline.errors import CacheError, PipelineError
from pipeline.features import FeatureArrays
from pipeline.inputs import InputCheck, check_inputs
from pipeline.resolve import read_current_group

__all__ = ["CacheError", "CacheView", "FeatureArrays", "FeatureCache", "GroupInfo", "InputCheck", "PipelineError",
           "check_inputs", "open_cache", "read_current_group"]
