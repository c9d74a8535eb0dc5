"""The audio stage's frame grid: how many frames a signal has, at what rate they are computed,
and how Praat is made to put its frames exactly on that grid.

Frame ``k`` is centred at ``k * hop_s`` seconds from the first sample (sample ``n`` sits at
``n / sr``), for every ``k`` with ``k * hop_s <= (N - 1) / sr``: ``F = floor((N - 1) / (sr * hop_s))
+ 1`` frames for ``N >= 1`` samples, 0 for none (``frame_count``). Windows that reach past
either end see zeros.

Why an analysis rate: frame features are computed on whole-sample hops (no interpolation in
time), so a rate at which ``hop_s`` is not a whole number of samples (22,050 Hz or 11,025 Hz at
``hop_s = 0.01``: 220.5 and 110.25 samples) is first resampled with soxr (HQ, time-aligned) to
the lowest rate above it where it is (22,100 Hz and 11,100 Hz). Frame count and frame times are
those of the input rate; only the samples under each window come from the resampled signal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

MIN_HOP_SAMPLES = 3          # the Praat padding below needs a hop above 2.5 samples
MAX_RATE_FACTOR = 2          # refuse hops that would need resampling to more than twice the rate


def _hop_fraction(hop_s: float) -> Fraction:
    """``hop_s`` as the exact decimal the user wrote (0.01 -> 1/100, not the binary float)."""
    return Fraction(repr(float(hop_s)))


def frame_count(n_samples: int, sr: int, hop_s: float) -> int:
    """Frames on the grid for ``n_samples`` at ``sr`` Hz: ``floor((N - 1) / (sr * hop_s)) + 1``, 0
    for no samples. Computed in exact rational arithmetic, so 0.1 s at 22,050 Hz has 11 frames."""
    if n_samples <= 0:
        return 0
    return int((n_samples - 1) // (sr * _hop_fraction(hop_s))) + 1


def analysis_rate(sr: int, hop_s: float) -> tuple[int, int]:
    """(analysis rate in Hz, hop in samples at that rate): ``sr`` itself when ``hop_s * sr`` is a
    whole number of samples, otherwise the lowest higher rate where it is.

    Raises ``ValueError`` for a hop under ``MIN_HOP_SAMPLES`` samples or one that would need more
    than twice ``sr`` (a hop such as 0.0123457 s has no nearby rate with whole-sample hops).
    """
    if not hop_s > 0:
        raise ValueError(f"hop_s={hop_s} s must be > 0")
    per = _hop_fraction(hop_s)
    rate = sr if (sr * per).denominator == 1 else math.ceil(sr / per.denominator) * per.denominator
    hop = sr * per if rate == sr else rate * per
    if rate > MAX_RATE_FACTOR * sr or hop < MIN_HOP_SAMPLES:
        raise ValueError(f"hop_s={hop_s} s at {sr} Hz: frames need a hop of at least {MIN_HOP_SAMPLES} whole "
                         f"samples at a rate up to {MAX_RATE_FACTOR}x {sr} Hz. Use a hop of whole milliseconds, "
                         "such as 0.01")
    return rate, int(hop)


@dataclass(frozen=True)
class AnalysisSignal:
    """A signal ready for frame analysis: ``y`` at ``sr`` Hz (the analysis rate), ``hop`` samples
    per frame, ``n_frames`` frames (counted at the input rate), ``hop_s`` seconds per frame."""

    y: np.ndarray
    sr: int
    hop: int
    n_frames: int
    hop_s: float

    @property
    def times_s(self) -> np.ndarray:
        """(F,) frame centres in seconds from the first sample."""
        return np.arange(self.n_frames) * self.hop_s


def to_analysis_rate(y: np.ndarray, sr: int, hop_s: float) -> AnalysisSignal:
    """Resample ``y`` (mono, ``sr`` Hz) to ``analysis_rate(sr, hop_s)`` when it differs, padding
    with zeros so the last frame's centre is inside the signal."""
    y = np.asarray(y, dtype=np.float64)
    rate, hop = analysis_rate(sr, hop_s)
    F = frame_count(len(y), sr, hop_s)
    if rate != sr and len(y):
        import soxr  # the resampler the audio loader uses (time-aligned, no filter delay)

        y = soxr.resample(y, sr, rate, quality="HQ")
        need = (F - 1) * hop + 1
        if len(y) < need:
            y = np.r_[y, np.zeros(need - len(y))]
    return AnalysisSignal(y, rate, hop, F, float(hop_s))


def praat_padding(window_samples: float) -> int:
    """Zeros to put before (and after) the signal so Praat's frames land on ``k * hop``.

    Praat centres its short-term frames in the sound: with ``nx`` samples of ``dx`` seconds and a
    window of ``w`` seconds it makes ``floor((nx*dx - w) / dt) + 1`` frames, the first at
    ``x1 - dx/2 + (nx*dx - (F-1)*dt) / 2``. A sound of ``nx = 2L + 1 + (F-1)*hop`` samples that
    starts ``L + 0.5`` samples before time 0 puts frame 0 at time 0 and has F frames when
    ``2L + 1`` exceeds the window by a margin in (0, hop). The margin must not be 0: then the
    frame count rests on floating-point rounding of ``nx*dx - w`` and comes out one short for
    some (rate, length) pairs (44.1 kHz with a 2205-sample window), shifting every frame by half a
    hop. ``L = ceil((w - 0.5) / 2)`` gives a margin of 0.5 to 2.5 samples.
    """
    return max(0, math.ceil((window_samples - 0.5) / 2))
