"""Pitch accuracy and speed of the audio stage against laryngograph references (Keele, FDA).

Usage:
    EEGAVI_DATA=/work/shared/data python -m bench.audio_pitch [--pyin-max-files N] [--out FILE.md]

Measures, per database: GPE and VDE (see ``bench.pitch_scoring``; best global offset within
+-40 ms per database and method) for this extractor's tracker (``pipeline.audio.track_pitch``)
and ``librosa.pyin`` at its defaults (fmin 50 Hz, fmax 500 Hz, frame 2048, hop 512), both on the
16 kHz signal the extractor analyses; the real-time factor of each (audio seconds per CPU
second, on one pinned core, BLAS/OpenMP threads = 1); and the real-time factor of the whole
"audio" extractor (decode + resample + all frame features) on the same files written as WAV.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"  # one core: set before numpy/librosa load their thread pools

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from pipeline.audio.voice import track_pitch  # noqa: E402
from bench.pitch_scoring import PitchReference, best_offset, load_database  # noqa: E402

SR = 16000


def _resample(ref: PitchReference) -> np.ndarray:
    import soxr  # the extractor's resampler (= librosa.resample(res_type="soxr_hq"))

    return soxr.resample(ref.y, ref.sr, SR, quality="HQ")


def _ours(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return track_pitch(y, SR)


def _pyin(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import librosa

    f0, voiced, _ = librosa.pyin(y, fmin=50.0, fmax=500.0, sr=SR)
    times = librosa.times_like(f0, sr=SR)  # default hop 512, centred frames
    return times, np.nan_to_num(f0), voiced.astype(bool)


def _run(method, signals: list[np.ndarray]) -> tuple[list, float]:
    """Tracks for every signal and the real-time factor (audio s / process CPU s)."""
    tracks, cpu = [], 0.0
    for y in signals:
        t0 = time.process_time()
        tracks.append(method(y))
        cpu += time.process_time() - t0
    audio_s = sum(len(y) for y in signals) / SR
    return tracks, audio_s / max(cpu, 1e-9)


def _extractor_rt(refs: list[PitchReference]) -> float:
    """Whole "audio" extractor on the utterances written as 16-bit WAV at their native rate."""
    import soundfile as sf

    from pipeline.extractors.audio_extractor import AudioExtractor
    from pipeline.manifest import Recording, Stream

    ex = AudioExtractor()
    with tempfile.TemporaryDirectory() as tmp:
        streams = []
        for ref in refs:
            path = Path(tmp) / f"{ref.name}.wav"
            sf.write(path, ref.y, ref.sr, subtype="PCM_16")
            streams.append(Stream(name="voice", kind="audio", path=path, format="wav"))
        ex.extract(Recording("warm", "bench", "s", {"voice": streams[0]}), streams[0])  # load libraries first
        cpu = 0.0
        for s in streams:
            t0 = time.process_time()
            ex.extract(Recording(s.path.stem, "bench", "s", {"voice": s}), s)
            cpu += time.process_time() - t0
    return sum(len(r.y) / r.sr for r in refs) / cpu


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None, help="speech folder (default: $EEGAVI_DATA/speech)")
    ap.add_argument("--pyin-max-files", type=int, default=0, help="pyin on the first N files per database (0 = all)")
    ap.add_argument("--skip-pyin", action="store_true")
    ap.add_argument("--out", type=Path, default=None, help="also write the markdown table here")
    args = ap.parse_args(argv)
    root = args.data or (Path(os.environ["EEGAVI_DATA"]) / "speech" if os.environ.get("EEGAVI_DATA") else None)
    if root is None or not root.is_dir():
        print("speech data not found: pass --data or set EEGAVI_DATA", file=sys.stderr)
        return 2
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    lines = ["| database | method | files | audio s | GPE % | VDE % | offset ms | x real time |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    _run(_ours, [np.zeros(SR)])  # warm-up: first Praat call loads code
    all_refs: list[PitchReference] = []
    for db in ("keele", "fda"):
        refs = load_database(root, db)
        all_refs += refs
        signals = [_resample(r) for r in refs]
        methods = [("this extractor (Praat ac)", _ours, len(refs))]
        if not args.skip_pyin:
            methods.append(("librosa.pyin defaults", _pyin, args.pyin_max_files or len(refs)))
        rts = {}
        for label, fn, n in methods:
            tracks, rt = _run(fn, signals[:n])
            off, gpe, vde = best_offset(refs[:n], tracks)
            rts[label] = rt
            audio_s = sum(len(y) for y in signals[:n]) / SR
            lines.append(f"| {db} | {label} | {n} | {audio_s:.0f} | {100 * gpe:.2f} | {100 * vde:.2f} | "
                         f"{1000 * off:+.0f} | {rt:.0f} |")
            print(lines[-1], flush=True)
        if len(rts) == 2:
            a, b = rts.values()
            lines.append(f"| {db} | speed ratio this / pyin | | | | | | {a / b:.0f} |")
    rt = _extractor_rt(all_refs)
    lines.append(f"| keele+fda | whole audio extractor (decode, resample, all features) | {len(all_refs)} | "
                 f"{sum(len(r.y) / r.sr for r in all_refs):.0f} | | | | {rt:.0f} |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
