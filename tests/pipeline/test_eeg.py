"""EEG stage: same numbers as MNE's own calls, and clear failures for bad recordings."""

from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import ConfigError, ExtractionError
from pipeline.extractors.eeg_extractor import EEGConfig, EEGPreprocess
from pipeline.manifest import Recording, Stream
from tests.conftest import EEG_NAMES, write_eeg_edf


def _rec(path: Path, fmt: str = "edf", offset: float = 0.0, channels=None, sfreq=None) -> tuple[Recording, Stream]:
    s = Stream(name="eeg", kind="eeg", path=path, format=fmt, offset_s=offset,
               channels=tuple(channels) if channels else None, sfreq=sfreq)
    return Recording(id="r", dataset="d", subject="s", streams={"eeg": s}), s


def test_matches_mne_on_a_real_edf(real_data: Path) -> None:
    import mne

    path = real_data / "eeg" / "test_edf_overlapping_annotations.edf"
    rec, stream = _rec(path, channels=["Fc5.", "Fc3.", "Cz..", "Oz.."], offset=1.5)
    cfg = EEGConfig(sfreq=100.0, l_freq=1.0, h_freq=40.0, notch_hz=(60.0,))
    got = EEGPreprocess(cfg).extract(rec, stream)

    raw = mne.io.read_raw_edf(path, preload=True, verbose="ERROR").pick(["Fc5.", "Fc3.", "Cz..", "Oz.."])
    raw.filter(1.0, 40.0, verbose="ERROR")
    raw.notch_filter([60.0], verbose="ERROR")
    raw.set_eeg_reference("average", projection=False, verbose="ERROR")
    raw.resample(100.0, verbose="ERROR")
    expected = (raw.get_data().T * 1e6).astype(np.float32)

    assert got.attrs["ch_names"] == ["Fc5.", "Fc3.", "Cz..", "Oz.."]
    assert got.attrs["sfreq"] == 100.0
    assert got.attrs["source_sfreq"] == 128.0  # the EDF's own rate (was the target rate before issue 14)
    np.testing.assert_allclose(got.arrays["data"], expected, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(got.times_s, raw.times + 1.5)
    assert np.all(np.diff(got.times_s) > 0)


@pytest.mark.parametrize("name,fmt", [("multiple_annotation_chans.bdf", "bdf"), ("test_raw.set", "set")])
def test_reads_bdf_and_eeglab(real_data: Path, name: str, fmt: str) -> None:
    rec, stream = _rec(real_data / "eeg" / name, fmt=fmt,
                       channels=["F3", "Fz", "F4", "C3", "C4"] if fmt == "bdf" else None)
    out = EEGPreprocess(EEGConfig()).extract(rec, stream)
    assert out.arrays["data"].dtype == np.float32
    assert out.arrays["data"].shape[0] == len(out.times_s) and out.attrs["sfreq"] == 128.0
    assert np.isfinite(out.arrays["data"]).all()


def test_nan_interpolated_or_rejected(tmp_path: Path) -> None:
    path = write_eeg_edf(tmp_path / "n.edf", nan_channel=3)
    rec, stream = _rec(path, fmt="npy", channels=EEG_NAMES, sfreq=128.0)
    out = EEGPreprocess(EEGConfig()).extract(rec, stream)
    assert np.isfinite(out.arrays["data"]).all()
    with pytest.raises(ExtractionError, match=r"n.npy: channel 'F4' has .*NaN.*--nan-policy interpolate"):
        EEGPreprocess(EEGConfig(nan_policy="reject")).extract(rec, stream)


def test_flat_channel_and_short_recording_fail_clearly(tmp_path: Path) -> None:
    rec, stream = _rec(write_eeg_edf(tmp_path / "f.edf", flat_channel=2))
    with pytest.raises(ExtractionError, match=r"f.edf: flat channel\(s\) \['F3'\]"):
        EEGPreprocess(EEGConfig()).extract(rec, stream)
    assert EEGPreprocess(EEGConfig(flat_policy="keep")).extract(rec, stream).attrs["flat_channels"] == ["F3"]
    rec, stream = _rec(write_eeg_edf(tmp_path / "s.edf", seconds=2.0))
    with pytest.raises(ExtractionError, match=r"s.edf: recording is 2.00 s long, shorter than min_duration_s"):
        EEGPreprocess(EEGConfig()).extract(rec, stream)


def test_missing_channel_and_unreadable_file(tmp_path: Path) -> None:
    rec, stream = _rec(write_eeg_edf(tmp_path / "a.edf"), channels=["Fp1", "Nope"])
    with pytest.raises(ExtractionError, match=r"channel\(s\) \['Nope'\] not in the file"):
        EEGPreprocess(EEGConfig()).extract(rec, stream)
    bad = tmp_path / "bad.edf"
    bad.write_bytes(b"0" * 300)
    rec, stream = _rec(bad)
    with pytest.raises(ExtractionError, match="bad.edf: cannot read as EDF"):
        EEGPreprocess(EEGConfig()).extract(rec, stream)


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="h_freq 80.0 Hz must be below the target Nyquist"):
        EEGConfig(h_freq=80.0, sfreq=128.0)
    with pytest.raises(ConfigError, match="nan_policy"):
        EEGConfig(nan_policy="drop")


def test_source_sfreq_is_the_files_rate(tmp_path: Path) -> None:
    """Regression (issue 14): source_sfreq was read after resampling, so it always equalled sfreq."""
    rec, stream = _rec(write_eeg_edf(tmp_path / "a.edf", sfreq=256.0))
    out = EEGPreprocess(EEGConfig()).extract(rec, stream)
    assert out.attrs["sfreq"] == 128.0 and out.arrays["data"].shape[0] == 6 * 128
    assert out.attrs["source_sfreq"] == 256.0
