"""Shared fixtures: tiny real-format recordings in tmp_path and the real-data location."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import yaml

EEG_NAMES = ["Fp1", "Fp2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8", "T7", "T8"]


def write_eeg_edf(path: Path, seconds: float = 6.0, sfreq: float = 128.0, seed: int = 0,
                  nan_channel: int | None = None, flat_channel: int | None = None) -> Path:
    """A small EDF with 14 EEG channels of coloured noise plus a 10 Hz rhythm (volts)."""
    import mne

    rng = np.random.default_rng(seed)
    n = int(seconds * sfreq)
    t = np.arange(n) / sfreq
    data = rng.normal(0, 10e-6, (len(EEG_NAMES), n)) + 20e-6 * np.sin(2 * np.pi * 10 * t)
    if flat_channel is not None:
        data[flat_channel] = 0.0
    info = mne.create_info(EEG_NAMES, sfreq, "eeg")
    raw = mne.io.RawArray(data, info, verbose="ERROR")
    raw.set_meas_date(None)
    path.parent.mkdir(parents=True, exist_ok=True)
    if nan_channel is not None:
        # EDF cannot store NaN; keep NaN recordings as .npy (the npy reader takes volts).
        data[nan_channel, 100:140] = np.nan
        np.save(path.with_suffix(".npy"), data)
        return path.with_suffix(".npy")
    mne.export.export_raw(path, raw, fmt="edf", overwrite=True, verbose="ERROR")
    return path


def write_manifest(path: Path, recordings: list[dict], label_scales: dict | None = None) -> Path:
    data = {"version": 1, "cache": "cache.zarr",
            "label_scales": label_scales or {"valence": {"min": 1, "max": 9, "threshold": 5}},
            "datasets": [{"name": "t", "recordings": recordings}]}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def eeg_dataset(tmp_path: Path) -> Path:
    """Three recordings of EDF EEG and a manifest; returns the manifest path."""
    recs = []
    for i in range(3):
        write_eeg_edf(tmp_path / "eeg" / f"r{i}.edf", seed=i)
        recs.append({"id": f"r{i}", "subject": f"s{i}", "labels": {"valence": 3 + i},
                     "modalities": {"eeg": {"path": f"eeg/r{i}.edf"}}})
    return write_manifest(tmp_path / "data_manifest.yaml", recs)


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The shared real recordings, or a skip naming the variable that points at them."""
    root = os.environ.get("EEGAVI_DATA")
    if not root or not Path(root).is_dir():
        pytest.skip("EEGAVI_DATA not set (or not a folder): real recordings absent")
    return Path(root)
