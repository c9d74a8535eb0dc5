"""The extractor contract, parametrized over the registry: a new extractor is covered with no edits
(beyond a config override when its defaults need weights that tests cannot have)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.extractors.base import FeatureArrays, registered_extractors
from pipeline.manifest import load_manifest
from pipeline.run import build_extractor

# Defaults that need real weights are swapped for tiny random ones here, and only here.
TEST_CONFIG_OVERRIDES = {name: {"random_init": True} for name in (
    "vivit", "clip", "timesformer", "vivit_logits", "timesformer_logits", "hubert", "wav2vec2")}


@pytest.fixture(scope="module")
def demo_manifest(tmp_path_factory) -> Path:
    from pipeline.synth.demo import generate_demo

    return generate_demo(tmp_path_factory.mktemp("demo"), subjects=1, trials=2, duration_s=6.0, seed=3)


def _config(name: str):
    cls = registered_extractors()[name]
    return cls.config_type(**TEST_CONFIG_OVERRIDES.get(name, {}))


# Derived extractors (``upstream`` groups, e.g. "vate") read the cache, not a recording stream;
# tests/pipeline/test_vate.py covers them.
@pytest.mark.parametrize("name", sorted(n for n, c in registered_extractors().items() if not hasattr(c, "upstream")))
def test_extractor_contract(name: str, demo_manifest: Path) -> None:
    cls = registered_extractors()[name]
    assert cls.modality in ("eeg", "ecg", "video", "audio") and cls.version and cls.libraries
    manifest = load_manifest(demo_manifest)
    rec = manifest.recordings[1]                      # t02: its video/audio have a non-zero offset
    (stream,) = rec.streams_of(cls.modality)
    extractor = build_extractor(name, _config(name))
    first = extractor.extract(rec, stream)
    again = build_extractor(name, _config(name)).extract(rec, stream)
    assert isinstance(first, FeatureArrays) and len(first.times_s) > 0 and first.arrays
    starts = first.times_s if first.times_s.ndim == 1 else first.times_s[:, 0]
    assert np.all(np.diff(starts) >= 0), "times must be non-decreasing"
    assert starts[0] >= stream.offset_s - 1e-9 and np.isfinite(first.times_s).all()
    if first.times_s.ndim == 2:
        assert np.all(first.times_s[:, 1] > first.times_s[:, 0])
    for key, arr in first.arrays.items():
        assert arr.dtype.kind == "f", (key, arr.dtype)
        assert np.isfinite(arr).all(), key
        np.testing.assert_array_equal(arr, again.arrays[key])   # identical on a rerun
    np.testing.assert_array_equal(first.times_s, again.times_s)
    for key, arr in first.arrays.items():       # the cache explains itself: named axes and units
        assert len(first.dims.get(key, ())) == arr.ndim and first.units.get(key), (key, first.dims, first.units)
    assert isinstance(extractor.weights_identity(), dict)
