"""Band differential entropy: the math against TorchEEG's definition, the extractor through the
cache on a tiny DEAP-layout dataset, and the fingerprint that makes stale reads impossible."""

from __future__ import annotations

import pickle
import pickletools

import numpy as np
import pytest
from scipy import signal

from bench.deap_synth import generate
from cli import main
from pipeline.cache import FeatureCache
from pipeline.eeg_bands import DEFAULT_BANDS, band_de
from pipeline.errors import CacheError, ConfigError, ExtractionError
from pipeline.extractors.eeg_bands_extractor import EEGBandsConfig
from pipeline.resolve import resolve_group
from pipeline.run import current_groups


def torcheeg_de(window: np.ndarray, sfreq: float = 128.0, order: int = 5) -> np.ndarray:
    """TorchEEG 1.1.3 BandDifferentialEntropy.apply, transcribed: (C, S) -> (C, B)."""
    out = []
    for low, high in ((4, 8), (8, 14), (14, 31), (31, 49)):
        nyq = 0.5 * sfreq
        b, a = signal.butter(order, [low / nyq, high / nyq], btype="band")
        out.append([0.5 * np.log2(2 * np.pi * np.e * np.var(signal.lfilter(b, a, c))) for c in window])
    return np.stack([np.array(c) for c in out], axis=-1)


def test_band_de_matches_torcheeg_definition_per_window() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(5 * 128) / 128
    data = rng.standard_normal((3, t.size)) * 10 + 20 * np.sin(2 * np.pi * 10 * t)
    got = band_de(data, 128.0, DEFAULT_BANDS, win=128, hop=128)
    assert got.shape == (5, 3, 4)
    for w in range(5):
        np.testing.assert_allclose(got[w], torcheeg_de(data[:, w * 128:(w + 1) * 128]), rtol=0, atol=1e-9)
    # the 10 Hz rhythm lands in alpha (8-14 Hz): its DE beats theta's in every window and channel
    assert (got[:, :, 1] > got[:, :, 0] + 1).all()


def test_trial_filter_differs_and_window_count_follows_hop() -> None:
    data = np.random.default_rng(0).standard_normal((2, 4 * 128))
    assert band_de(data, 128.0, win=128, hop=64).shape == (7, 2, 4)
    zero_phase = band_de(data, 128.0, method="trial-sosfiltfilt")
    assert zero_phase.shape == (4, 2, 4)
    assert not np.allclose(zero_phase, band_de(data, 128.0))


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ConfigError, match="empty"):
        EEGBandsConfig(bands=(("alpha", 14.0, 8.0),))
    with pytest.raises(ConfigError, match="NAME:LOW-HIGH"):
        EEGBandsConfig(bands="alpha=8-14")
    with pytest.raises(ConfigError, match="filter"):
        EEGBandsConfig(filter="fir")
    assert EEGBandsConfig(bands="alpha:8-13").bands == (("alpha", 8.0, 13.0),)


@pytest.fixture()
def deap_tiny(tmp_path):
    """2 subjects x 2 trials in the preprocessed-DEAP layout, and its manifest from the adapter."""
    generate(tmp_path / "deap", subjects=2, trials=2, seed=1)
    manifest = tmp_path / "data_manifest.yaml"
    with pytest.raises(SystemExit) as exit_:
        main(["manifest", "from", "deap", str(tmp_path / "deap"), "-o", str(manifest)])
    assert exit_.value.code == 0
    return tmp_path, manifest


def test_generator_writes_the_real_layout(deap_tiny) -> None:
    root, manifest = deap_tiny
    path = root / "deap" / "data_preprocessed_python" / "s01.dat"
    raw = path.read_bytes()
    assert raw[:2] == b"\x80\x02"                      # protocol 2, as Python 2's cPickle wrote
    globals_ = {arg for op, arg, _ in pickletools.genops(raw) if op.name == "GLOBAL"}
    assert globals_ == {"numpy.core.multiarray _reconstruct", "numpy ndarray", "numpy dtype"}
    content = pickle.loads(raw, encoding="latin1")     # DEAP README's way of reading it
    assert sorted(content) == ["data", "labels"]
    assert content["data"].shape == (2, 40, 8064) and content["data"].dtype == np.float64
    assert content["labels"].shape == (2, 4) and ((content["labels"] >= 1) & (content["labels"] <= 9)).all()
    text = manifest.read_text()
    assert text.count("- id: deap-s") == 4 and "format: deap_dat" in text


def _extract(manifest, cache, *flags: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["extract", "eeg", "--features", "bands", "-m", str(manifest), "--cache", str(cache), "--scheduler", "sync",
              *flags])
    assert exit_.value.code == 0


def test_extractor_writes_torcheeg_features_and_a_band_change_makes_a_new_group(deap_tiny) -> None:
    root, manifest = deap_tiny
    cache_path = root / "cache.zarr"
    _extract(manifest, cache_path)
    cache = FeatureCache(cache_path)
    (first,) = cache.groups("eeg")
    feats = cache.read_entry(first.path, "deap-s02-v02", "eeg")
    data = pickle.loads((root / "deap" / "data_preprocessed_python" / "s02.dat").read_bytes(), encoding="latin1")["data"]
    stimulus = data[1, :32, 384:]                      # trial 2, EEG channels, after the 3 s baseline
    assert feats.arrays["de"].shape == (60, 32, 4) and feats.arrays["de"].dtype == np.float32
    np.testing.assert_allclose(feats.arrays["de"][7], torcheeg_de(stimulus[:, 7 * 128:8 * 128]), atol=1e-5)
    np.testing.assert_allclose(feats.times_s[[0, -1]], [[0.0, 1.0], [59.0, 60.0]])

    _extract(manifest, cache_path, "--bands", "theta:4-8,alpha:8-13,beta:14-31,gamma:31-49")
    cache = FeatureCache(cache_path)                   # a fresh handle sees the new root attributes
    groups = {g.path for g in cache.groups("eeg")}
    assert len(groups) == 2 and first.path in groups   # new group; the old one stays until gc
    new = current_groups(cache)["eeg"]["eeg-bands"]
    assert new != first.path
    changed = cache.read_entry(new, "deap-s02-v02", "eeg").arrays["de"]
    old = feats.arrays["de"]
    assert np.array_equal(changed[..., [0, 2, 3]], old[..., [0, 2, 3]]) and not np.allclose(changed[..., 1], old[..., 1])


def test_band_groups_are_not_stage_two_default_eeg(deap_tiny) -> None:
    """Regression: an eeg-bands group must never be read as the continuous EEG of `train fusion`."""
    root, manifest = deap_tiny
    _extract(manifest, root / "cache.zarr")
    cache = FeatureCache(root / "cache.zarr")
    with pytest.raises(CacheError, match="no eeg features cached"):
        resolve_group(cache, "eeg")
    assert resolve_group(cache, "eeg", "eeg-bands").extractor == "eeg-bands"


def test_window_not_whole_samples_names_the_fix(deap_tiny) -> None:
    root, manifest = deap_tiny
    with pytest.raises(SystemExit) as exit_:
        main(["extract", "eeg", "--features", "bands", "-m", str(manifest), "--cache", str(root / "c.zarr"), "--scheduler", "sync",
              "--window-s", "0.013", "--json"])
    assert exit_.value.code == 1
    log = (root / "c.failures.jsonl").read_text()
    assert "not a whole number of samples" in log and ExtractionError.__name__ in log


def test_options_of_the_other_feature_kind_are_refused(deap_tiny, capsys) -> None:
    root, manifest = deap_tiny
    with pytest.raises(SystemExit) as exit_:
        main(["extract", "eeg", "--features", "bands", "-m", str(manifest), "--cache", str(root / "c.zarr"),
              "--sfreq", "256"])
    assert exit_.value.code == 2
    assert "sfreq" in capsys.readouterr().err
    assert not (root / "c.zarr").exists()
