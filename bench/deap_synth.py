"""A DEAP-sized synthetic dataset in the real preprocessed-DEAP layout, with a learnable valence effect.

Writes ``ROOT/data_preprocessed_python/sNN.dat``, each a protocol-2 pickle (what Python 2's cPickle
wrote; readers use ``encoding='latin1'``) of a dict with ``data`` float64 (trials, 40 channels,
samples at 128 Hz: 3 s pre-trial baseline then the stimulus) and ``labels`` float64 (trials, 4:
valence, arousal, dominance, liking on 1-9), as DEAP's README describes and TorchEEG's
DEAPDataset reads. The signal is 1/f-like background noise in microvolts plus an alpha (10 Hz)
and a theta (6 Hz) rhythm whose amplitudes grow with the trial's valence on the first 16 (left)
channels: band power of those channels predicts valence.

Files are written to a temporary name and renamed, so an interrupted run never leaves a truncated
``sNN.dat``; existing files are reused (same seed, same bytes).

    python -m bench.deap_synth --out bench/.data/deap --subjects 32
"""

from __future__ import annotations

import argparse
import logging
import os
import pickle
import struct
from pathlib import Path

import numpy as np
from scipy import signal

_log = logging.getLogger(__name__)
SFREQ = 128
CHANNELS = 40            # 32 EEG + 8 peripheral, as the real files
EEG_CHANNELS = 32
BASELINE_S = 3
STIMULUS_S = 60
PICKLE_PROTOCOL = 2


def subject_arrays(subject: int, trials: int = 40, seed: int = 0) -> dict[str, np.ndarray]:
    """``{'data': (trials, 40, 8064) float64 µV, 'labels': (trials, 4) float64}`` for one subject."""
    rng = np.random.default_rng([seed, subject])
    n = (BASELINE_S + STIMULUS_S) * SFREQ
    labels = rng.uniform(1.0, 9.0, size=(trials, 4))
    white = rng.standard_normal((trials, CHANNELS, n))
    # 1/f-like background: a one-pole low-pass of white noise (µV scale of scalp EEG).
    data = signal.lfilter([1.0], [1.0, -0.95], white, axis=-1) * 3.0
    t = np.arange(n) / SFREQ
    gain = (labels[:, 0] - 5.0) / 4.0                                    # (trials,) in [-1, 1]
    for freq, base in ((10.0, 6.0), (6.0, 4.0)):
        phase = rng.uniform(0, 2 * np.pi, size=(trials, 16, 1))
        amp = base * (1.0 + 0.6 * gain)[:, None, None]                   # valence raises left power
        data[:, :16, :] += amp * np.sin(2 * np.pi * freq * t[None, None, :] + phase)
    data[:, EEG_CHANNELS:, :] *= 10.0                                    # peripheral channels: other scales
    return {"data": data, "labels": labels}


class Py2Pickler(pickle._Pickler):  # the pure-Python pickler: its dispatch table can be extended
    """Protocol 2 as Python 2's cPickle wrote it: byte strings and ASCII text as BINSTRING (a Python 2
    ``str``), numpy globals under ``numpy.core``. Python 3's own protocol 2 would wrap every array's
    bytes in ``_codecs.encode`` (UTF-8 inflated, about 1.45x larger) and name ``numpy._core``."""

    dispatch = dict(pickle._Pickler.dispatch)

    def _save_binstring(self, obj: bytes) -> None:
        head = pickle.SHORT_BINSTRING + bytes([len(obj)]) if len(obj) < 256 else pickle.BINSTRING + struct.pack("<i", len(obj))
        self.write(head + obj)

    def save_bytes(self, obj: bytes) -> None:
        self._save_binstring(obj)
        self.memoize(obj)

    def save_str(self, obj: str) -> None:
        if not obj.isascii():
            return pickle._Pickler.save_str(self, obj)
        self._save_binstring(obj.encode("ascii"))
        self.memoize(obj)

    def save_global(self, obj: object, name: str | None = None) -> None:
        module = getattr(obj, "__module__", None) or ""
        name = name or obj.__qualname__  # type: ignore[attr-defined]
        module = module.replace("numpy._core", "numpy.core")
        self.write(pickle.GLOBAL + module.encode("ascii") + b"\n" + name.encode("ascii") + b"\n")
        self.memoize(obj)

    dispatch[bytes] = save_bytes
    dispatch[str] = save_str


def write_subject(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Pickle one subject like the real files, atomically (temporary file, then rename)."""
    tmp = path.with_suffix(".dat.tmp")
    with open(tmp, "wb") as f:
        Py2Pickler(f, protocol=PICKLE_PROTOCOL).dump(arrays)
    os.replace(tmp, path)


def generate(root: Path, subjects: int, trials: int = 40, seed: int = 0) -> Path:
    """Write (or reuse) ``subjects`` files under ``root/data_preprocessed_python``; returns that folder."""
    folder = Path(root) / "data_preprocessed_python"
    folder.mkdir(parents=True, exist_ok=True)
    for s in range(1, subjects + 1):
        path = folder / f"s{s:02d}.dat"
        if path.exists():
            continue
        _log.info("writing %s", path)
        write_subject(path, subject_arrays(s, trials, seed))
    return folder


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("bench/.data/deap"))
    ap.add_argument("--subjects", type=int, default=32)
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    folder = generate(args.out, args.subjects, args.trials, args.seed)
    _log.info("DEAP layout: %s (%d subjects)", folder, args.subjects)


if __name__ == "__main__":
    main()
