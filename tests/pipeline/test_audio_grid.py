"""The audio frame grid (``pipeline.audio.grid``): every rate >= 8 kHz and every length gives
the documented frames at k * 10 ms, with correct F0 (issue 14: 44.1 kHz crashed for some
lengths, 22,050 and 11,025 Hz were refused)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pipeline.audio.grid import analysis_rate, frame_count
from pipeline.audio.voice import FRAME_NAMES, frame_features, track_pitch

SR = 16000
COL = {n: i for i, n in enumerate(FRAME_NAMES)}


def test_analysis_rate_and_frame_count() -> None:
    assert analysis_rate(16000, 0.01) == (16000, 160) and analysis_rate(44100, 0.01) == (44100, 441)
    assert analysis_rate(22050, 0.01) == (22100, 221) and analysis_rate(11025, 0.01) == (11100, 111)
    assert frame_count(0, 22050, 0.01) == 0 and frame_count(1, 22050, 0.01) == 1
    assert frame_count(2206, 22050, 0.01) == 11 and frame_count(2205, 22050, 0.01) == 10  # 0.1 s is the 11th frame
    with pytest.raises(ValueError, match="hop_s=0.0002 s at 8000 Hz"):
        analysis_rate(8000, 0.0002)


GRID_RATES = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000)


def voiced_tone(sr: int, n: int, f0: float = 150.0) -> np.ndarray:
    """A steady voiced tone: ``f0`` and four harmonics with falling amplitudes, a little noise."""
    t = np.arange(n) / sr
    y = sum(0.5 / k * np.sin(2 * np.pi * k * f0 * t + k) for k in range(1, 6))
    return y + 0.005 * np.random.default_rng(n).standard_normal(n)


def documented_frame_count(n: int, sr: int) -> int:
    """floor((N - 1) / (sr * 0.01)) + 1 in integers: frame k at k * 10 ms <= the last sample's time."""
    return (n - 1) * 100 // sr + 1 if n else 0


@settings(max_examples=30, deadline=None, database=None)
@given(sr=st.sampled_from(GRID_RATES), seconds=st.floats(0.05, 3.0))
@example(sr=44100, seconds=60.0)                    # long ones by hand: Praat is too slow to draw many
@example(sr=24000, seconds=17.3)
@example(sr=48000, seconds=60.0)
@example(sr=22050, seconds=60.0)
@example(sr=11025, seconds=60.0)
@example(sr=8000, seconds=60.0)
@example(sr=22050, seconds=0.05)
def test_track_pitch_grid_at_any_rate_and_length(sr: int, seconds: float) -> None:
    """Any rate >= 8 kHz and any length: no exception, the documented frame count, frames at
    k * 10 ms, and a 150 Hz tone read within 1 % (median over voiced frames)."""
    n = int(round(seconds * sr))
    times, f0, voiced = track_pitch(voiced_tone(sr, n), sr)
    F = documented_frame_count(n, sr)
    assert len(times) == len(f0) == len(voiced) == F
    np.testing.assert_allclose(times, np.arange(F) * 0.01, rtol=0, atol=1e-9)
    assert voiced.sum() >= F // 2, f"{voiced.sum()} of {F} frames voiced"
    assert np.median(f0[voiced]) == pytest.approx(150.0, rel=0.01)


@pytest.mark.parametrize("n", [2717 * 441 + 200, 802 * 441 + 200])
def test_track_pitch_44k_lengths_that_crashed(n: int) -> None:
    """Regression: at 44.1 kHz the Praat padding equalled the 2205-sample window exactly, and
    float rounding made one frame too few for these lengths (27.17 s, 8.02 s) -> RuntimeError."""
    times, f0, voiced = track_pitch(voiced_tone(44100, n), 44100)
    assert len(times) == documented_frame_count(n, 44100) and times[0] == 0.0
    assert np.abs(f0[voiced] / 150 - 1).max() < 0.01


def test_frame_features_at_22050() -> None:
    """22,050 Hz (not a whole number of samples per 10 ms) runs through the resampled grid:
    energy of a 0.2-amplitude sine reads 0.2 / sqrt(2) away from the ends."""
    sr = 22050
    y = 0.2 * np.sin(2 * np.pi * 440 * np.arange(2 * sr) / sr)
    ff = frame_features(y, sr)
    assert ff.values.shape == (documented_frame_count(len(y), sr), len(FRAME_NAMES))
    np.testing.assert_allclose(ff.times_s, np.arange(len(ff.times_s)) * 0.01, atol=1e-9)
    assert np.all(np.isfinite(ff.values))
    np.testing.assert_allclose(ff.values[5:-5, COL["rms"]], 0.2 / np.sqrt(2), rtol=0.01)



def _real_speech(real_data: Path, source: str) -> tuple[np.ndarray, int]:
    from bench.pitch_scoring import read_fda, read_keele

    if source.startswith("keele/"):
        ref = read_keele(real_data / "speech" / source)
        return ref.y, ref.sr
    refs = [read_fda(real_data / "speech" / "fda" / f"{name}.wav") for name in source.split("/")[1].split("+")]
    return np.concatenate([r.y for r in refs]), refs[0].sr


@pytest.mark.parametrize("source,n", [("keele/f1nw0000.pes", 2717 * 441 + 200),    # 27.17 s
                                      ("fda/rl028+rl048", 802 * 441 + 200)])      # 8.02 s of 9 s
def test_real_speech_at_44k_lengths_that_crashed(real_data: Path, source: str, n: int) -> None:
    """Regression (issue 14): real speech resampled to 44.1 kHz at these lengths raised "Praat
    frame grid mismatch". Now it gives the documented frames and the same F0 as at 16 kHz."""
    import soxr

    y, sr = _real_speech(real_data, source)
    hi = soxr.resample(y, sr, 44100, quality="HQ")[:n]
    times, f0, voiced = track_pitch(hi, 44100)
    assert len(times) == (n - 1) // 441 + 1 and times[0] == 0.0
    t16, f16, v16 = track_pitch(soxr.resample(y, sr, SR, quality="HQ")[: int(n / 44100 * SR)], SR)
    k = min(len(times), len(t16))
    both = voiced[:k] & v16[:k]
    assert np.mean(voiced[:k] == v16[:k]) >= 0.95 and both.sum() > 200
    assert np.mean(np.abs(f0[:k][both] / f16[both] - 1) > 0.2) <= 0.01
