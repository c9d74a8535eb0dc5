"""Which group of each modality is current: written by ``cli extract``, read by stage two.

``cli extract`` is the only place that knows today's weights and library versions, so it decides
what is current and records it here; stage two and ``cli cache gc`` only read the record. The
pointer lives in the attributes of each modality group (``<store>/<modality>/zarr.json``), one
metadata file written atomically per modality, so extractions of different modalities never race
on it. Caches written before it kept one pointer for all modalities in the store's attributes;
that is still read.
"""

from __future__ import annotations

import time
from typing import Any

from pipeline.cache import FeatureCache, GroupInfo

CURRENT_KEY = "eegavi_current"


def mark_current(cache: FeatureCache, group: GroupInfo) -> None:
    """Record ``group`` as the current one for its (modality, extractor): what training reads, gc keeps."""
    pointers = dict(cache.modality_attr(group.modality, CURRENT_KEY, {}))
    pointers[group.extractor] = {"group": group.path, "fingerprint": group.fingerprint, "when": time.time()}
    cache.set_modality_attr(group.modality, CURRENT_KEY, pointers)


def current_pointers(cache: FeatureCache) -> dict[str, dict[str, dict[str, Any]]]:
    """modality -> extractor -> {"group", "fingerprint", "when"}, most recently extracted first."""
    merged: dict[str, dict[str, dict[str, Any]]] = {}
    for modality, by_ext in dict(cache.root_attr(CURRENT_KEY, {})).items():  # caches from before per-modality pointers
        merged[modality] = {e: dict(v) for e, v in by_ext.items()}
    for modality in cache.modalities():
        merged.setdefault(modality, {}).update(cache.modality_attr(modality, CURRENT_KEY, {}))
    return {m: dict(sorted(d.items(), key=lambda kv: -kv[1]["when"])) for m, d in merged.items() if d}


def current_groups(cache: FeatureCache) -> dict[str, dict[str, str]]:
    """modality -> extractor -> group path, for the groups the current configuration uses."""
    return {m: {e: v["group"] for e, v in d.items()} for m, d in current_pointers(cache).items()}
