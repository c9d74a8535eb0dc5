"""Demo speech: a plan of utterances and syllables with a known F0 contour, rendered to 16 kHz audio.

Why: the audio extractor must find voicing and F0, and the arousal factor lives in the voice's
pitch level. Voiced syllables are glottal pulse trains (fractional-sample pulses following the F0
contour exactly) through a glottal roll-off and three formant resonators; short unvoiced noise
bursts and pauses separate them. The plan is on the recording clock, so the same plan drives the
mouth in the video and the truth sidecar.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.signal import lfilter

AUDIO_SR = 16000
F0_HOP_S = 0.01
SEMITONES_PER_Z = 2.0  # voice pitch level change per unit of the audio arousal factor
F0_LIMITS_HZ = (70.0, 350.0)
# F1, F2, F3 (Hz) of /a/ /e/ /i/ /o/ /u/ (adult male averages).
_VOWELS = ((730, 1090, 2440), (530, 1840, 2480), (270, 2290, 3010), (570, 840, 2410), (300, 870, 2240))
_BANDWIDTHS = (80.0, 100.0, 150.0)


@dataclass(frozen=True)
class SpeechPlan:
    """Syllables on the recording clock. Arrays are aligned: one entry per syllable."""

    base_f0_hz: float
    starts: np.ndarray       # (S,) syllable start, s
    ends: np.ndarray         # (S,) syllable end, s
    voiced: np.ndarray       # (S,) bool: voiced vowel, else unvoiced fricative burst
    vowel: np.ndarray        # (S,) index into _VOWELS
    st_start: np.ndarray     # (S,) semitone offset at syllable start (declination + rise)
    st_end: np.ndarray       # (S,) semitone offset at syllable end
    accent: np.ndarray       # (S,) semitone accent peak (raised cosine over the syllable)
    level: np.ndarray        # (S,) RMS amplitude of the syllable

    def f0_at(self, t: np.ndarray) -> np.ndarray:
        """F0 in Hz at recording times ``t``; 0 where unvoiced or silent."""
        t = np.asarray(t, dtype=np.float64)
        k = np.clip(np.searchsorted(self.starts, t, side="right") - 1, 0, max(len(self.starts) - 1, 0))
        if len(self.starts) == 0:
            return np.zeros_like(t)
        inside = (t >= self.starts[k]) & (t < self.ends[k]) & self.voiced[k]
        u = np.clip((t - self.starts[k]) / (self.ends[k] - self.starts[k]), 0.0, 1.0)
        st = self.st_start[k] + (self.st_end[k] - self.st_start[k]) * u + self.accent[k] * np.sin(np.pi * u) ** 2
        f0 = np.clip(self.base_f0_hz * 2.0 ** (st / 12.0), *F0_LIMITS_HZ)
        return np.where(inside, f0, 0.0)

    def voiced_segments(self) -> list[tuple[float, float]]:
        return [(float(s), float(e)) for s, e, v in zip(self.starts, self.ends, self.voiced) if v]


def plan_speech(rng: np.random.Generator, base_f0_hz: float, duration_s: float, loudness: float = 1.0) -> SpeechPlan:
    """Utterances of 3-7 syllables separated by 0.4-1.2 s pauses, each with declination
    (+1.5 to -1.5 semitones), random accents and, one time in three, a final rise."""
    rows: list[tuple] = []
    t = float(rng.uniform(0.2, 0.8))
    while t < duration_s - 0.6:
        n_syl = int(rng.integers(3, 8))
        syl = []
        for _ in range(n_syl):
            if rng.random() < 0.35:  # consonant burst before the vowel
                d = float(rng.uniform(0.04, 0.09))
                syl.append((t, t + d, False))
                t += d
            d = float(rng.uniform(0.12, 0.28))
            syl.append((t, t + d, True))
            t += d + float(rng.uniform(0.02, 0.08))
        u0, u1 = syl[0][0], syl[-1][1]
        rise = rng.random() < 1 / 3
        for i, (s, e, v) in enumerate(syl):
            final = 4.0 if rise and i == len(syl) - 1 else 0.0
            rows.append((s, e, v, int(rng.integers(len(_VOWELS))), _declination(s, u0, u1),
                         _declination(e, u0, u1) + final, float(rng.uniform(0.0, 2.0)) if v else 0.0,
                         loudness * (0.1 if v else 0.03) * float(rng.uniform(0.8, 1.2))))
        t += float(rng.uniform(0.4, 1.2))
    rows = [r for r in rows if r[1] <= duration_s]
    cols = list(zip(*rows)) if rows else [()] * 8
    return SpeechPlan(base_f0_hz=base_f0_hz, starts=np.asarray(cols[0], float), ends=np.asarray(cols[1], float),
                      voiced=np.asarray(cols[2], bool), vowel=np.asarray(cols[3], int),
                      st_start=np.asarray(cols[4], float), st_end=np.asarray(cols[5], float),
                      accent=np.asarray(cols[6], float), level=np.asarray(cols[7], float))


def _declination(t: float, u0: float, u1: float) -> float:
    """Semitone offset falling linearly from +1.5 to -1.5 over an utterance [u0, u1]."""
    return 1.5 - 3.0 * (t - u0) / (u1 - u0)


def _resonator(f: float, bw: float, sr: int) -> tuple[list[float], list[float]]:
    r = np.exp(-np.pi * bw / sr)
    a = [1.0, -2.0 * r * np.cos(2 * np.pi * f / sr), r * r]
    return [sum(a)], a  # unit gain at DC


def _pulses(f0: np.ndarray, sr: int) -> np.ndarray:
    """Impulse train whose k-th pulse sits where the F0 phase crosses k, split over two samples."""
    phase = np.concatenate([[0.0], np.cumsum(f0 / sr)])
    out = np.zeros(len(f0) + 1)
    k = np.arange(1, int(phase[-1]) + 1)
    i = np.searchsorted(phase, k)  # phase[i-1] < k <= phase[i]
    frac = (k - phase[i - 1]) / (phase[i] - phase[i - 1])
    np.add.at(out, i - 1, 1.0 - frac)
    np.add.at(out, i, frac)
    return out[1:]


def render_speech(rng: np.random.Generator, plan: SpeechPlan, formant_scale: float, start_s: float,
                  duration_s: float) -> np.ndarray:
    """Float audio in [-1, 1] covering recording time [start_s, duration_s) at AUDIO_SR."""
    n = int(round((duration_s - start_s) * AUDIO_SR))
    y = 2e-4 * rng.standard_normal(n)  # room noise: never digital silence
    env_len = int(0.015 * AUDIO_SR)
    for s, e, v, vow, lvl in zip(plan.starts, plan.ends, plan.voiced, plan.vowel, plan.level):
        i0 = int(np.ceil((s - start_s) * AUDIO_SR))
        i1 = int(np.ceil((e - start_s) * AUDIO_SR))
        if i1 <= max(i0, 0) or i0 >= n:
            continue
        i0c, i1c = max(i0, 0), min(i1, n)
        t = start_s + np.arange(i0c, i1c) / AUDIO_SR
        if v:
            src = _pulses(plan.f0_at(t), AUDIO_SR)
            src = lfilter([1.0], [1.0, -0.96], src)  # glottal roll-off
            for f, bw in zip(_VOWELS[vow], _BANDWIDTHS):
                b, a = _resonator(f * formant_scale, bw, AUDIO_SR)
                src = lfilter(b, a, src)
            src += 0.02 * src.std() * rng.standard_normal(len(src))  # breathiness
        else:
            src = lfilter([1.0, -1.0], [1.0], rng.standard_normal(len(t)))  # bright fricative noise
        env = np.ones(len(src))
        ramp = min(env_len, len(src) // 2)
        if ramp > 0:
            w = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, ramp))
            env[:ramp] *= w
            env[-ramp:] *= w[::-1]
        seg = src * env
        y[i0c:i1c] += lvl * seg / (np.sqrt(np.mean(seg ** 2)) + 1e-12)
    return np.clip(y, -1.0, 1.0)


def f0_truth(plan: SpeechPlan, start_s: float, duration_s: float) -> dict:
    """F0 contour at F0_HOP_S frames starting at the audio file's first sample (recording clock)."""
    n = int(np.floor((duration_s - start_s) / F0_HOP_S + 1e-9))
    t = start_s + np.arange(n) * F0_HOP_S
    f0 = plan.f0_at(t)
    return {"t0_s": round(start_s, 6), "hop_s": F0_HOP_S, "f0_hz": [round(float(v), 2) for v in f0],
            "voiced": [int(v > 0) for v in f0]}


def write_wav(path: Path, audio: np.ndarray) -> None:
    """16-bit PCM mono WAV at AUDIO_SR."""
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, AUDIO_SR, subtype="PCM_16", format="WAV")
