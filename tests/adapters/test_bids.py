"""EEG-BIDS adapter on folders written by mne-bids: files and events as recordings, bad channels and
the sidecar's PowerLineFrequency (issue 14.10)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.adapters import build_manifest
from pipeline.manifest import load_manifest
from pipeline.signal_readers import read_raw
from tests.adapters import fixtures as F
from tests.adapters.cli_helpers import check_and_extract, from_dataset


def test_bids_files_and_events_as_trials(tmp_path: Path, capsys) -> None:
    root = F.write_bids(tmp_path / "bids")
    out = tmp_path / "m.yaml"
    code, text = from_dataset("bids", root, out, capsys)
    assert code == 0 and "2 recordings" in text
    rec = load_manifest(out).by_id()["sub-02_task-films_run-1"]
    assert rec.covariates == {"age": 30.0, "sex": 1.0} and rec.streams["ecg"].channels == ("ECG",)
    check_and_extract(out, "eeg", "ecg")
    report = build_manifest("bids", root, out, trial_types=("film",))
    assert report.recordings == 4 and not report.skipped
    film = load_manifest(out).by_id()["sub-01_task-films_run-1_ev002"]
    assert film.streams["eeg"].options["crop_s"] == pytest.approx([11.0, 17.0])
    assert read_raw(film.streams["eeg"]).n_times == 6 * 128


def test_bad_channels_and_60_hz_mains_are_honoured(tmp_path: Path, capsys) -> None:
    """Regression (issue 14.10): channels.tsv 'bad' and PowerLineFrequency were ignored (50 Hz notch)."""
    root = F.write_bids(tmp_path / "bids", subjects=("01",), line_freq=60, bads=("F3",), hum_uv=40.0)
    out = tmp_path / "m.yaml"
    code, text = from_dataset("bids", root, out, capsys)
    assert code == 0 and "channels.tsv marks ['F3'] bad" in text, text
    rec = load_manifest(out).by_id()["sub-01_task-films_run-1"]
    eeg = rec.streams["eeg"]
    assert "F3" not in eeg.channels and len(eeg.channels) == 13
    assert eeg.options == {"line_freq_hz": 60.0, "bad_channels": ["F3"]}
    from pipeline.extractors.eeg_extractor import EEGConfig, EEGPreprocess, notch_frequencies

    assert notch_frequencies(EEGConfig(), eeg) == (60.0,)
    assert notch_frequencies(EEGConfig(notch_hz=(50.0, 100.0)), eeg) == (60.0, 120.0)

    def hum_uv(data: np.ndarray, sfreq: float) -> float:
        """Amplitude (µV) of the 60 Hz component, averaged over channels."""
        spectrum = np.abs(np.fft.rfft(data, axis=0)) * 2 / len(data)
        return float(spectrum[np.argmin(np.abs(np.fft.rfftfreq(len(data), 1 / sfreq) - 60.0))].mean())

    # the low-pass is lifted so only the notch can remove the hum
    out_60 = EEGPreprocess(EEGConfig(h_freq=None)).extract(rec, eeg)
    assert out_60.attrs["ch_names"] == list(eeg.channels)
    raw_hum = hum_uv(read_raw(eeg).get_data(picks=list(eeg.channels)).T * 1e6, 128.0)
    assert raw_hum > 30 and hum_uv(out_60.arrays["data"], 128.0) < 0.1 * raw_hum


def test_bids_50_hz_or_unstated_mains_keep_the_configured_notch(tmp_path: Path) -> None:
    from pipeline.extractors.eeg_extractor import EEGConfig, notch_frequencies

    root = F.write_bids(tmp_path / "bids", subjects=("01",))
    build_manifest("bids", root, tmp_path / "m.yaml")
    eeg = load_manifest(tmp_path / "m.yaml").recordings[0].streams["eeg"]
    assert eeg.options == {"line_freq_hz": 50.0} and notch_frequencies(EEGConfig(), eeg) == (50.0,)
    unstated = type(eeg)(**{**eeg.__dict__, "options": {}})
    assert notch_frequencies(EEGConfig(), unstated) == (50.0,)
