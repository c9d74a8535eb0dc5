"""fusion.FeatureWindowDataset: eeg-bands rows of the cache as a torch Dataset (the TorchEEG interop
path), read from the cache alone, with labels from the manifest and clear errors."""

from __future__ import annotations

import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.deap_synth import generate
from cli import main
from fusion import FeatureWindowDataset
from pipeline.cache import FeatureCache
from pipeline.errors import CacheError, ConfigError
from pipeline.manifest import load_manifest
from tests.fusion.cli_runs import REPO, env


def _cli(*argv: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    assert exit_.value.code == 0


@pytest.fixture(scope="module")
def bands_cache(tmp_path_factory) -> tuple[Path, Path]:
    """2 subjects x 2 trials of preprocessed DEAP, band DE cached by `cli extract eeg --features bands`."""
    root = tmp_path_factory.mktemp("deap")
    generate(root / "deap", subjects=2, trials=2, seed=4)
    manifest = root / "data_manifest.yaml"
    _cli("manifest", "from", "deap", str(root / "deap"), "-o", str(manifest))
    _cli("extract", "eeg", "--features", "bands", "-m", str(manifest), "--scheduler", "sync")
    return root, manifest


def test_rows_labels_and_keys_come_from_the_current_group(bands_cache) -> None:
    root, manifest = bands_cache
    ds = FeatureWindowDataset(manifest, labels=("valence",))
    assert len(ds) == 4 * 60 and ds.features.shape == (240, 32, 4)
    item = ds[61]                                              # window 1 of the second recording
    assert item["recording"] == "deap-s01-v02" and item["subject"] == "deap-s01" and item["window"] == 1
    assert item["features"].shape == (32, 4) and item["features"].dtype == torch.float32
    assert item["start_s"] == pytest.approx(1.0)
    group = FeatureCache(load_manifest(manifest, check_files=False).cache).read_entry(ds.group_path, "deap-s01-v02", "eeg")
    np.testing.assert_array_equal(item["features"].numpy(), group.arrays["de"][1])
    raw = pickle.loads((root / "deap/data_preprocessed_python/s01.dat").read_bytes(), encoding="latin1")
    assert item["labels"].tolist() == [float(raw["labels"][1, 0] > 5.0)] and item["label_mask"].all()
    assert list(ds.subject_ids[:60]) == ["deap-s01"] * 60 and ds.recording_ids[-1] == "deap-s02-v02"


def test_subjects_transform_and_a_default_loader(bands_cache) -> None:
    _, manifest = bands_cache
    ds = FeatureWindowDataset(manifest, labels=("valence", "arousal"), subjects=["deap-s02"],
                              transform=lambda de: torch.as_tensor(de.T.copy()))      # (B, C) as a model wants
    assert set(ds.subject_ids) == {"deap-s02"} and len(ds) == 120
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=16, shuffle=True)))
    assert batch["features"].shape == (16, 4, 32) and batch["labels"].shape == (16, 2)
    assert set(batch["subject"]) == {"deap-s02"}


def test_regression_rescales_and_unknown_labels_are_named(bands_cache) -> None:
    _, manifest = bands_cache
    ds = FeatureWindowDataset(manifest, labels=("valence",), task="regression")
    assert 0.0 <= float(ds[0]["labels"][0]) <= 1.0
    with pytest.raises(ConfigError, match="no label scale"):
        FeatureWindowDataset(manifest, labels=("happiness",))
    with pytest.raises(ConfigError, match="no eeg recording matches"):
        FeatureWindowDataset(manifest, subjects=["nobody"])


def test_incomplete_group_names_the_command_that_finishes_it(bands_cache, tmp_path) -> None:
    root, manifest = bands_cache
    copy = tmp_path / "cache.zarr"
    shutil.copytree(load_manifest(manifest, check_files=False).cache, copy)
    ds = FeatureWindowDataset(manifest, cache=copy)
    shutil.rmtree(copy / ds.group_path / "deap-s02-v01")       # one recording's entry lost
    with pytest.raises(CacheError, match=r"1 of 4 recording streams missing .*deap-s02-v01.*Finish it with `cli "):
        FeatureWindowDataset(manifest, cache=copy)
    assert len(FeatureWindowDataset(manifest, cache=copy, subjects=["deap-s01"])) == 120


def test_reading_imports_no_extractor_or_signal_library(bands_cache) -> None:
    """What a TorchEEG environment needs: the dataset loads without mne, scipy.signal or the extractors."""
    _, manifest = bands_cache
    code = (f"import sys; from fusion import FeatureWindowDataset as D; d = D({str(manifest)!r}, labels=('valence',)); "
            "d[0]; bad = [m for m in sys.modules if m.split('.')[0] in ('mne', 'librosa', 'neurokit2', 'transformers') "
            "or m.startswith(('pipeline.extractors', 'scipy.signal'))]; print(len(d), bad)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env(), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "240 []"
