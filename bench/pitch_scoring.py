"""Pitch-tracker scoring against laryngograph references (Keele, FDA): GPE and VDE.

Why in the package: the benchmark (``bench/audio_pitch.py``) and the real-speech test share the
readers and the scoring, so both measure the same thing.

- GPE (gross pitch error): among frames voiced in both the reference and the estimate, the
  fraction whose estimate is more than 20 % off the reference.
- VDE (voicing decision error): the fraction of all scored frames whose voiced/unvoiced
  decision differs from the reference.
Reference frame ``i`` is placed at ``i * ref_hop_s + offset_s``; each database documents its
frame centres only loosely, so the benchmark searches one global offset per database and method
within +-40 ms. The estimate is read at the reference times: voicing from the nearest frame, F0
interpolated (in log frequency) between two voiced neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class PitchReference:
    """One utterance and its reference: signal (float, [-1, 1)), rate, F0 per reference frame
    (Hz, 0 = unvoiced), frame hop, and which frames are scored (Keele's -1 "uncertain" is not)."""

    name: str
    y: np.ndarray
    sr: int
    f0_hz: np.ndarray
    hop_s: float
    valid: np.ndarray


def read_keele(pes: Path) -> PitchReference:
    """Keele: raw int16 LE 20 kHz ``.pes``; ``.pev`` = 13 header lines, then one pitch period in
    samples per 10 ms frame (0 unvoiced, -1 uncertain), ending at ``ELF:``."""
    y = np.fromfile(pes, dtype="<i2").astype(np.float64) / 32768.0
    values: list[float] = []
    for line in pes.with_suffix(".pev").read_text().splitlines()[13:]:
        line = line.strip()
        if line.startswith("ELF"):
            break
        if line:
            values.append(float(line))
    period = np.array(values)
    f0 = np.where(period > 0, 20000.0 / np.maximum(period, 1e-9), 0.0)
    return PitchReference(pes.stem, y, 20000, f0, 0.01, period >= 0)


def read_fda(wav: Path) -> PitchReference:
    """FDA: 20 kHz WAV; ``.f0ref`` = one F0 (Hz) per 15 ms frame, 0 = unvoiced."""
    import soundfile as sf

    y, sr = sf.read(str(wav), dtype="float64")
    f0 = np.loadtxt(wav.with_suffix(".f0ref"))
    return PitchReference(wav.stem, y, int(sr), f0, 0.015, np.ones(len(f0), dtype=bool))


def load_database(root: Path, name: str) -> list[PitchReference]:
    """All utterances of ``name`` ("keele" or "fda") under ``root`` (the ``speech`` folder)."""
    if name == "keele":
        return [read_keele(p) for p in sorted((root / "keele").glob("*.pes"))]
    if name == "fda":
        return [read_fda(p) for p in sorted((root / "fda").glob("*.wav"))]
    raise ValueError(f"unknown pitch database '{name}' (known: keele, fda)")


def estimate_at(times_s: np.ndarray, f0_hz: np.ndarray, voiced: np.ndarray,
                at_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Read a uniform-hop track at arbitrary times: (F0, voiced) as described in the module."""
    if len(times_s) < 2:
        idx = np.zeros(len(at_s), dtype=int)
        return f0_hz[idx], voiced[idx]
    hop = times_s[1] - times_s[0]
    x = (at_s - times_s[0]) / hop
    i0 = np.clip(np.floor(x).astype(int), 0, len(times_s) - 1)
    i1 = np.clip(i0 + 1, 0, len(times_s) - 1)
    w = np.clip(x - i0, 0.0, 1.0)
    near = np.where(w < 0.5, i0, i1)
    both = voiced[i0] & voiced[i1]
    logf = (1 - w) * np.log(np.maximum(f0_hz[i0], 1e-9)) + w * np.log(np.maximum(f0_hz[i1], 1e-9))
    return np.where(both, np.exp(logf), f0_hz[near]), voiced[near]


def error_counts(ref: PitchReference, times_s: np.ndarray, f0_hz: np.ndarray, voiced: np.ndarray,
                 offset_s: float) -> np.ndarray:
    """[gross errors, frames voiced in both, voicing errors, scored frames] for one utterance."""
    at = np.arange(len(ref.f0_hz)) * ref.hop_s + offset_s
    est_f0, est_v = estimate_at(times_s, f0_hz, voiced.astype(bool), at)
    ref_v = ref.f0_hz > 0
    both = ref.valid & ref_v & est_v
    gross = np.abs(est_f0[both] - ref.f0_hz[both]) > 0.2 * ref.f0_hz[both]
    return np.array([gross.sum(), both.sum(), np.sum((est_v != ref_v) & ref.valid), ref.valid.sum()], dtype=float)


def best_offset(refs: list[PitchReference], tracks: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
                max_offset_s: float = 0.04, step_s: float = 0.001) -> tuple[float, float, float]:
    """One global offset for a database (minimising GPE + VDE over all its frames) and the
    resulting (offset_s, GPE, VDE), fractions in [0, 1]."""
    best: tuple[float, float, float] | None = None
    for off in np.arange(-max_offset_s, max_offset_s + step_s / 2, step_s):
        c = sum(error_counts(r, *t, offset_s=float(off)) for r, t in zip(refs, tracks))
        gpe, vde = c[0] / max(c[1], 1), c[2] / max(c[3], 1)
        if best is None or gpe + vde < best[1] + best[2]:
            best = (float(off), float(gpe), float(vde))
    assert best is not None
    return best
