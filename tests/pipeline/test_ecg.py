"""ECG stage: R-peak timing on synthetic and real (MIT-BIH) ECG, beat windows, window mapping,
bad inputs, and the "ecg" extractor on a real EDF file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from pipeline.timeline import events_in_windows
from pipeline.ecg.rpeaks import detect_rpeaks, extract_beats, template_correlation
from pipeline.errors import ConfigError, ExtractionError
from pipeline.manifest import Recording, Stream

AAMI_BEATS = frozenset("NLRBAaJSVrFejnE/fQ?")


def _gauss(t: np.ndarray, mu: float, sd: float) -> np.ndarray:
    return np.exp(-0.5 * ((t - mu) / sd) ** 2)


def synth_ecg(fs: float, duration_s: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(signal in mV, true R-peak times in s): P-QRS-T beats with varying RR, wander and noise."""
    rng = np.random.default_rng(seed)
    rr = 0.8 + 0.08 * np.sin(np.arange(400) / 5) + rng.normal(0, 0.03, 400)
    r_times = 0.6 + np.concatenate([[0], np.cumsum(rr)])
    r_times = r_times[r_times < duration_s - 0.6]
    t = np.arange(int(duration_s * fs)) / fs
    x = 0.1 * np.sin(2 * np.pi * 0.3 * t) + rng.normal(0, 0.01, t.size)
    for r in r_times:
        sl = slice(max(int((r - 0.4) * fs), 0), min(int((r + 0.6) * fs), t.size))
        tt = t[sl]
        x[sl] += (0.15 * _gauss(tt, r - 0.16, 0.025) - 0.1 * _gauss(tt, r - 0.025, 0.008)
                  + 1.0 * _gauss(tt, r, 0.009) - 0.25 * _gauss(tt, r + 0.025, 0.008)
                  + 0.3 * _gauss(tt, r + 0.28, 0.05))
    return x, r_times


def match(ref: np.ndarray, det: np.ndarray, tol: float) -> tuple[int, int, int, np.ndarray]:
    """Greedy one-to-one matching of sorted times within ``tol``: (tp, fn, fp, abs errors)."""
    i = j = tp = 0
    errs = []
    while i < len(ref) and j < len(det):
        d = det[j] - ref[i]
        if abs(d) <= tol:
            tp, i, j = tp + 1, i + 1, j + 1
            errs.append(abs(d))
        elif d < 0:
            j += 1
        else:
            i += 1
    return tp, len(ref) - tp, len(det) - tp, np.asarray(errs)


# ---------------------------------------------------------------- detection timing


@pytest.mark.parametrize("fs", [256.0, 500.0])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_synthetic_rpeaks_are_on_time_either_polarity(fs: float, sign: float) -> None:
    x, truth = synth_ecg(fs, 60.0)
    det = detect_rpeaks(sign * x, fs) / fs
    tp, fn, fp, err = match(truth, det, 0.05)
    assert fn == 0 and fp == 0, (fn, fp)
    assert np.median(err) <= 0.005 and err.max() <= 0.012


def test_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown R-peak method"):
        detect_rpeaks(np.zeros(1000), 250.0, method="magic")


@pytest.mark.parametrize("method", ["neurokit", "hamilton2002"])
def test_other_neurokit_methods_work(method: str) -> None:
    x, truth = synth_ecg(250.0, 30.0)
    tp, fn, fp, err = match(truth, detect_rpeaks(x, 250.0, method=method) / 250.0, 0.05)
    assert fn <= 1 and fp <= 1 and np.median(err) <= 0.005


def _data_root() -> Path:
    root = os.environ.get("EEGAVI_DATA")
    if not root or not (Path(root) / "ecg" / "mitdb").is_dir():
        pytest.skip("EEGAVI_DATA not set: real recordings absent")
    return Path(root)


# floors below what the benchmark measures (bench/ecg_mitdb.py), at 150 ms and 50 ms
@pytest.mark.parametrize("record,se_floor,ppv_floor,se50_floor", [
    ("mitdb/101", 99.8, 99.6, 99.7),
    ("mitdb/108", 97.5, 98.3, 92.0),  # tall P waves, noise: NeuroKit2 alone gets Se 79.6 %, +P 72.1 %
    ("mitdb/208", 99.1, 99.8, 97.8),
    ("nstdb/118e24", 99.8, 99.8, 99.5),  # real electrode-motion noise at 24 dB SNR (measured 100/100/99.8)
    ("nstdb/118e12", 99.8, 98.0, 98.5),  # and at 12 dB (measured 100/98.5/98.9)
])
def test_mitdb_sensitivity_and_predictivity(record: str, se_floor: float, ppv_floor: float,
                                            se50_floor: float) -> None:
    wfdb = pytest.importorskip("wfdb")
    path = str(_data_root() / "ecg" / record)
    rec, ann = wfdb.rdrecord(path), wfdb.rdann(path, "atr")
    ref = np.asarray(ann.sample)[[s in AAMI_BEATS for s in ann.symbol]] / rec.fs
    det = detect_rpeaks(rec.p_signal[:, 0], float(rec.fs)) / rec.fs
    tp, fn, fp, err = match(ref, det, 0.150)
    assert 100 * tp / (tp + fn) >= se_floor and 100 * tp / (tp + fp) >= ppv_floor, (tp, fn, fp)
    tp5, fn5, _, _ = match(ref, det, 0.050)
    assert 100 * tp5 / (tp5 + fn5) >= se50_floor
    assert np.median(err) <= 0.005


def test_ventricular_flutter_gives_few_beats() -> None:
    """MIT-BIH 207 has 143 s of ventricular flutter (no beats annotated): plain NeuroKit2 puts
    over 200 beats there; the flutter rule removes most of them."""
    wfdb = pytest.importorskip("wfdb")
    path = str(_data_root() / "ecg" / "mitdb" / "207")
    rec, ann = wfdb.rdrecord(path), wfdb.rdann(path, "atr")
    sym, samples = np.asarray(ann.symbol), np.asarray(ann.sample)
    det = detect_rpeaks(rec.p_signal[:, 0], float(rec.fs))
    inside = sum(int(((det >= a) & (det <= b)).sum()) for a, b in zip(samples[sym == "["], samples[sym == "]"]))
    assert inside <= 90, inside


def test_beats_survive_muscle_noise() -> None:
    from pipeline.ecg.rpeaks import bandpass

    fs = 256.0
    x, truth = synth_ecg(fs, 60.0, seed=4)
    noise = bandpass(np.random.default_rng(9).normal(size=x.size), fs, 20.0, 100.0)
    tp, fn, fp, err = match(truth, detect_rpeaks(x + 0.1 * noise / noise.std(), fs) / fs, 0.05)
    assert fn == 0 and fp <= 1 and np.median(err) <= 0.006


# ---------------------------------------------------------------- beats


def test_beat_windows_shape_and_alignment() -> None:
    fs = 360.0
    x, truth = synth_ecg(fs, 40.0, seed=3)
    beats = extract_beats(x, fs, pre_s=0.25, post_s=0.45, length=141)  # 5 ms grid, R at column 50
    assert beats.reason is None
    assert beats.windows.shape == (beats.times_s.size, 141) and beats.windows.dtype == np.float32
    assert np.all(beats.times_s - 0.25 >= 0) and np.all(beats.times_s + 0.45 <= x.size / fs)
    assert abs(int(np.argmax(beats.windows.mean(axis=0))) - 50) <= 1
    tp, fn, fp, _ = match(truth, beats.times_s, 0.01)
    assert fp == 0 and fn <= 2  # only edge beats whose window does not fit may go
    np.testing.assert_allclose(beats.rr_s[1:], np.diff(beats.times_s), atol=1e-5)
    np.testing.assert_allclose(beats.hr_bpm, 60.0 / beats.rr_s, rtol=1e-5)
    assert np.all(beats.quality > 0.9)
    true_rr = np.diff(truth)
    assert beats.summary["mean_hr_bpm"] == pytest.approx(60 / true_rr.mean(), rel=0.01)
    assert beats.summary["sdnn_ms"] == pytest.approx(1000 * true_rr.std(ddof=1), rel=0.1)
    assert beats.summary["rmssd_ms"] == pytest.approx(1000 * np.sqrt(np.mean(np.diff(true_rr) ** 2)), rel=0.15)


def test_rmssd_skips_differences_across_a_dropped_interval() -> None:
    """Regression (issue 14): an out-of-range interval (5 s, a signal gap) is dropped, and the
    intervals on either side of it were never successive, so their difference is not in RMSSD
    (the old code took it: 105 ms instead of 20 ms)."""
    from pipeline.ecg.rpeaks import hrv_summary

    out = hrv_summary(np.array([0.80, 0.82, 5.0, 1.00, 1.02]), 25.0, 300.0)
    assert out["rmssd_ms"] == pytest.approx(20.0)
    assert out["sdnn_ms"] == pytest.approx(1000 * np.std([0.80, 0.82, 1.00, 1.02], ddof=1))
    assert out["mean_hr_bpm"] == pytest.approx(60 / 0.91)
    assert np.isnan(hrv_summary(np.array([0.8, 5.0, 0.9]), 25.0, 300.0)["rmssd_ms"])  # no adjacent pair


@pytest.mark.parametrize("record,min_hr,max_hr", [("201", 25.0, 300.0),   # default range: 2 intervals out
                                                  ("106", 40.0, 120.0)])  # PVC bigeminy: 179 out
def test_hrv_summary_matches_neurokit2_on_mitdb(record: str, min_hr: float, max_hr: float) -> None:
    """On a DS1 record's annotated beats: NeuroKit2's ``hrv_time`` on the same RR series with the
    out-of-range intervals marked missing (NaN) gives the same SDNN, RMSSD and mean HR."""
    import neurokit2 as nk

    from pipeline.ecg.rpeaks import hrv_summary

    wfdb = pytest.importorskip("wfdb")
    ann = wfdb.rdann(str(_data_root() / "ecg" / "mitdb" / record), "atr")
    beats = np.asarray(ann.sample)[[s in AAMI_BEATS for s in ann.symbol]] / 360.0
    rr = np.diff(beats)
    out_of_range = (rr < 60 / max_hr) | (rr > 60 / min_hr)
    assert out_of_range.any()
    ours = hrv_summary(rr, min_hr, max_hr)
    nn_ms = np.where(out_of_range, np.nan, 1000 * rr)
    ref = nk.hrv_time({"RRI": nn_ms, "RRI_Time": beats[1:]}).iloc[0]
    assert ours["rmssd_ms"] == pytest.approx(ref["HRV_RMSSD"], rel=1e-9)
    assert ours["sdnn_ms"] == pytest.approx(ref["HRV_SDNN"], rel=1e-9)
    assert ours["mean_hr_bpm"] == pytest.approx(60000 / ref["HRV_MeanNN"], rel=1e-9)


def test_template_correlation_flags_the_odd_beat() -> None:
    w = np.tile(np.sin(np.linspace(0, 3, 50)), (12, 1)).astype(np.float32)
    w[2] = np.random.default_rng(0).normal(size=50)
    q = template_correlation(w)
    assert q.shape == (12,) and q[2] < 0.5 and np.all(np.delete(q, 2) > 0.9)


def test_events_in_windows_matches_brute_force() -> None:
    rng = np.random.default_rng(1)
    beats = np.sort(rng.uniform(0, 100, 150))
    starts = rng.uniform(-5, 100, 40)
    windows = np.stack([starts, starts + rng.uniform(0, 10, 40)], axis=1)
    windows[0] = [beats[3], beats[7]]  # start inclusive, end exclusive
    start, stop = events_in_windows(beats, windows)
    assert start.shape == stop.shape == (40,)
    for (a, b), s, e in zip(windows, start, stop):
        np.testing.assert_array_equal(beats[s:e], beats[(beats >= a) & (beats < b)])
    assert (start[0], stop[0]) == (3, 7)
    empty_start, empty_stop = events_in_windows(np.zeros(0), windows)
    assert np.all(empty_stop - empty_start == 0)


# ---------------------------------------------------------------- bad input


def _bad_inputs() -> dict[str, tuple[np.ndarray, float, str]]:
    fs = 250.0
    rng = np.random.default_rng(0)
    x, _ = synth_ecg(fs, 30.0)
    mostly_nan = x.copy()
    mostly_nan[: int(0.5 * x.size)] = np.nan
    saturated = np.clip(x * 20, -0.5, 0.5)
    return {
        "flat": (np.full(7500, 0.3), fs, "flat line"),
        "noise": (rng.normal(size=7500), fs, "heartbeat"),
        "no beats": (0.5 * np.sin(2 * np.pi * 0.2 * np.arange(7500) / fs), fs, "heartbeat"),
        "too short": (x[:250], fs, "shorter than two beats"),
        "nans": (mostly_nan, fs, "NaN"),
        "saturated": (saturated, fs, "saturated"),
        "low rate": (x[::3], fs / 3, "under 100 Hz"),
    }


@pytest.mark.parametrize("case", list(_bad_inputs()))
def test_bad_input_gives_empty_beats_with_reason(case: str) -> None:
    x, fs, reason = _bad_inputs()[case]
    beats = extract_beats(x, fs, length=64)
    assert beats.reason is not None and reason in beats.reason, beats.reason
    assert beats.windows.shape == (0, 64) and beats.times_s.shape == beats.rr_s.shape == (0,)


def test_sparse_nans_are_interpolated_over() -> None:
    x, truth = synth_ecg(250.0, 30.0)
    x[1000:1010] = np.nan
    beats = extract_beats(x, 250.0)
    assert beats.reason is None and np.all(np.isfinite(beats.windows))
    assert match(truth, beats.times_s, 0.02)[1] <= 2


# ---------------------------------------------------------------- extractor on a real EDF file


def _write_edf(path: Path, ecg_type: str, fs: float = 256.0) -> np.ndarray:
    mne = pytest.importorskip("mne")
    x, truth = synth_ecg(fs, 40.0, seed=5)
    eeg = np.random.default_rng(2).normal(0, 20e-6, x.size)
    info = mne.create_info(["Fz", "ECG"], fs, ["eeg", ecg_type])
    raw = mne.io.RawArray(np.stack([eeg, x * 1e-3]), info, verbose="ERROR")  # volts
    mne.export.export_raw(str(path), raw, fmt="edf", overwrite=True, verbose="ERROR")
    return truth


def _recording(stream: Stream) -> Recording:
    return Recording(id="p01_t1", dataset="demo", subject="p01", streams={stream.name: stream})


@pytest.mark.parametrize("ecg_type", ["ecg", "misc"])
def test_extractor_reads_edf_and_puts_beats_on_the_recording_clock(tmp_path: Path, ecg_type: str) -> None:
    from pipeline.extractors import get_extractor

    path = tmp_path / "p01.edf"
    truth = _write_edf(path, ecg_type)
    stream = Stream(name="ecg", kind="ecg", path=path, format="edf", offset_s=1.5)
    cls = get_extractor("ecg")
    out = cls().extract(_recording(stream), stream)
    assert out.attrs["channel"] == "ECG" and "reason" not in out.attrs
    b = out.times_s.size
    assert out.times_s.shape == (b,) and b >= 40 and np.all(np.diff(out.times_s) > 0)
    assert out.arrays["beats"].shape == (b, 128) and out.arrays["beats"].dtype == np.float32
    for name in ("rr_s", "hr_bpm", "quality"):
        assert out.arrays[name].shape == (b,) and out.arrays[name].dtype == np.float32
    tp, fn, fp, err = match(truth + 1.5, out.times_s, 0.02)
    assert fp == 0 and fn <= 2 and np.median(err) <= 0.005
    assert 60 < out.attrs["mean_hr_bpm"] < 90 and out.attrs["sdnn_ms"] > 0
    assert 0.5 < float(np.max(out.arrays["beats"])) < 2.0  # mV
    again = cls().extract(_recording(stream), stream)
    np.testing.assert_array_equal(again.arrays["beats"], out.arrays["beats"])


def test_extractor_channel_selection_and_errors(tmp_path: Path) -> None:
    from pipeline.extractors.ecg_extractor import ECGBeats, ECGConfig

    path = tmp_path / "p01.edf"
    _write_edf(path, "ecg")
    stream = Stream(name="ecg", kind="ecg", path=path, format="edf")
    by_index = ECGBeats(ECGConfig(channel=1)).extract(_recording(stream), stream)
    assert by_index.attrs["channel"] == "ECG" and by_index.times_s.size > 40
    eeg_lead = Stream(name="ecg", kind="ecg", path=path, format="edf", channels=("Fz",))
    empty = ECGBeats().extract(_recording(eeg_lead), eeg_lead)  # an EEG lead holds no heartbeats
    assert empty.times_s.size == 0 and "reason" in empty.attrs
    missing = Stream(name="ecg", kind="ecg", path=path, format="edf", channels=("EKG2",))
    with pytest.raises(ExtractionError, match="EKG2"):
        ECGBeats().extract(_recording(missing), missing)
    assert ECGConfig(channel="1").channel == 1  # a CLI "--set channel=1" arrives as text
    with pytest.raises(ConfigError):
        ECGConfig(method="nope")
    with pytest.raises(ConfigError):
        ECGConfig(min_hr_bpm=200, max_hr_bpm=100)
