"""The bundled demo dataset: deterministic synthetic EEG, ECG, face video and voice with planted labels.

Why: ``make demo`` and the tests need a dataset that exists everywhere, is written in the real
formats the extractors read (EDF, H.264 MP4, 16 kHz WAV), carries ground truth the extractors can
be checked against (R-peaks, F0 and voicing), and holds a label signal that is split across
modalities, so that fusion can beat EEG alone on held-out subjects:

    valence = clip(5 + 2 * (z_eeg_valence + z_video_valence) / sqrt(2), 1, 9)
    arousal = clip(5 + 2 * (z_eeg_arousal + z_ecg_arousal + z_audio_arousal) / sqrt(3), 1, 9)

with every z drawn N(0, 1) per trial, independently. Where each factor is planted is described in
``synth_physio``, ``synth_face`` and ``synth_speech`` and written to ``truth.json``.
Every random draw comes from a generator seeded by (seed, subject, trial, purpose), so a run with
fewer subjects or trials yields the same files for the recordings it shares with a larger one.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from pipeline.errors import ConfigError
from pipeline.manifest import dump_manifest
from pipeline.synth.face import FACE_LOG_GAIN_PER_Z, FACE_WARM_PER_Z, FPS, FaceTraits, render_frames, write_mp4
from pipeline.synth.physio import (AROUSAL_PER_Z, ASYM_PER_Z, ECG_SFREQ, EEG_CHANNELS, EEG_SFREQ, HR_PER_Z,
                                   PhysioTraits, ecg_signal, eeg_signal, r_peak_times, write_edf)
from pipeline.synth.speech import (AUDIO_SR, SEMITONES_PER_Z, f0_truth, plan_speech, render_speech, write_wav)

_log = logging.getLogger(__name__)

LABEL_SCALES = {"valence": {"min": 1, "max": 9, "threshold": 5}, "arousal": {"min": 1, "max": 9, "threshold": 5}}
LABEL_FORMULAS = {
    "valence": "clip(5 + 2 * (eeg_valence + video_valence) / sqrt(2), 1, 9)",
    "arousal": "clip(5 + 2 * (eeg_arousal + ecg_arousal + audio_arousal) / sqrt(3), 1, 9)",
}
FACTOR_EFFECTS = {
    "eeg_valence": f"frontal alpha (AF4/F8/F4/FC6 vs AF3/F7/F3/FC5): ln(amplitude right/left) = "
                   f"{ASYM_PER_Z} * z + subject asym_bias (power ratio: twice that)",
    "eeg_arousal": f"all channels: alpha amplitude * exp(-{AROUSAL_PER_Z} z), beta (~21 Hz) amplitude * "
                   f"exp(+{AROUSAL_PER_Z} z)",
    "video_valence": f"face region: skin RGB * exp({FACE_LOG_GAIN_PER_Z} z) + {list(FACE_WARM_PER_Z)} * z",
    "ecg_arousal": f"heart rate = subject hr_bpm + {HR_PER_Z} * z (bpm)",
    "audio_arousal": f"voice F0 level = subject f0_hz * 2 ** ({SEMITONES_PER_Z} * z / 12)",
}
FACTORS = ("eeg_valence", "video_valence", "eeg_arousal", "ecg_arousal", "audio_arousal")
# Purposes of the seeded generators (never reorder: it changes every file).
_SUBJECT, _FACTORS, _EEG, _ECG, _SPEECH, _AUDIO, _VIDEO, _EVENTS = range(8)


@dataclass(frozen=True)
class SubjectTraits:
    """Static covariates and per-subject nuisance."""

    subject: str
    age: int
    sex: int  # 0 = male, 1 = female (covariate 'sex')
    physio: PhysioTraits
    face: FaceTraits
    f0_hz: float
    formant_scale: float


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *key]))


def _r(x: float, nd: int = 6) -> float:
    return round(float(x), nd)


def draw_subject(seed: int, index: int) -> SubjectTraits:
    """Subject ``index`` (0-based): covariates and nuisance, independent of the other subjects."""
    rng = _rng(seed, _SUBJECT, index)
    sex = int(rng.integers(0, 2))
    age = int(rng.integers(19, 41))
    physio = PhysioTraits(eeg_gain=_r(math.exp(rng.normal(0, 0.3)), 4), alpha_hz=_r(rng.uniform(8.5, 11.5), 3),
                          asym_bias=_r(rng.normal(0, 0.1), 4), hr_bpm=_r(rng.uniform(60, 78), 2))
    # Nuisance kept below the planted face gain: a random encoder's pooled tokens mix face and
    # background linearly, so a loud background would drown the video factor.
    skin = np.array([165.0, 128.0, 104.0]) * math.exp(rng.normal(0, 0.05)) * np.exp(rng.normal(0, 0.03, 3))
    face = FaceTraits(skin_rgb=tuple(_r(v, 2) for v in skin),
                      hair_rgb=tuple(_r(v, 2) for v in rng.uniform(15, 90, 3)),
                      background_rgb=tuple(_r(v, 2) for v in 110.0 + rng.uniform(-12, 12, 3)))
    f0 = (205.0 if sex else 120.0) * math.exp(rng.normal(0, 0.06))
    return SubjectTraits(subject=f"s{index + 1:02d}", age=age, sex=sex, physio=physio, face=face,
                         f0_hz=_r(f0, 2), formant_scale=1.15 if sex else 1.0)


def labels_from_factors(z: dict[str, float]) -> dict[str, float]:
    """The planted label formulas (see LABEL_FORMULAS)."""
    val = 5 + 2 * (z["eeg_valence"] + z["video_valence"]) / math.sqrt(2)
    aro = 5 + 2 * (z["eeg_arousal"] + z["ecg_arousal"] + z["audio_arousal"]) / math.sqrt(3)
    return {"valence": _r(min(max(val, 1.0), 9.0), 4), "arousal": _r(min(max(aro, 1.0), 9.0), 4)}


def _blinks(rng: np.random.Generator, duration_s: float) -> np.ndarray:
    out, t = [], float(rng.uniform(0.5, 3.0))
    while t < duration_s - 0.3:
        out.append(_r(t, 4))
        t += float(rng.uniform(2.0, 6.0))
    return np.asarray(out)


def _offsets(rng: np.random.Generator, trial: int) -> dict[str, float]:
    """Video/audio start late on every second trial so alignment code is exercised."""
    late = trial % 2 == 1
    return {"eeg": 0.0, "ecg": 0.0,
            "video": _r(rng.uniform(0.04, 0.5), 2) if late else 0.0,
            "audio": _r(rng.uniform(0.04, 0.5), 2) if late else 0.0}


def _generate_recording(out: Path, seed: int, subj: SubjectTraits, s_idx: int, t_idx: int,
                        duration_s: float) -> tuple[dict, dict]:
    """Write the four files of one recording; return (manifest entry, truth entry)."""
    rid = f"{subj.subject}_t{t_idx + 1:02d}"
    frng = _rng(seed, _FACTORS, s_idx, t_idx)
    z = {name: _r(frng.standard_normal()) for name in FACTORS}
    labels = labels_from_factors(z)
    offsets = _offsets(frng, t_idx)
    blinks = _blinks(_rng(seed, _EVENTS, s_idx, t_idx), duration_s)
    info = {"his_id": subj.subject, "sex": 2 if subj.sex else 1}

    eeg = eeg_signal(_rng(seed, _EEG, s_idx, t_idx), subj.physio, z["eeg_valence"], z["eeg_arousal"],
                     duration_s, blinks)
    write_edf(out / "eeg" / f"{rid}.edf", eeg, list(EEG_CHANNELS), EEG_SFREQ, "eeg", info)
    ecg_rng = _rng(seed, _ECG, s_idx, t_idx)
    hr = min(max(subj.physio.hr_bpm + HR_PER_Z * z["ecg_arousal"], 45.0), 120.0)
    peaks = r_peak_times(ecg_rng, hr, duration_s)
    ecg_mv = ecg_signal(ecg_rng, peaks, duration_s)
    write_edf(out / "ecg" / f"{rid}.edf", ecg_mv[None] * 1000.0, ["ECG"], ECG_SFREQ, "ecg", info)

    f0_base = subj.f0_hz * 2.0 ** (SEMITONES_PER_Z * z["audio_arousal"] / 12.0)
    plan = plan_speech(_rng(seed, _SPEECH, s_idx, t_idx), f0_base, duration_s)
    audio = render_speech(_rng(seed, _AUDIO, s_idx, t_idx), plan, subj.formant_scale, offsets["audio"], duration_s)
    write_wav(out / "audio" / f"{rid}.wav", audio)

    vrng = _rng(seed, _VIDEO, s_idx, t_idx)
    phase = vrng.uniform(0, 2 * np.pi, 3)
    n_frames = int(round((duration_s - offsets["video"]) * FPS))
    times = offsets["video"] + np.arange(n_frames) / FPS
    write_mp4(out / "video" / f"{rid}.mp4", times,
              lambda t: render_frames(t, subj.face, z["video_valence"], blinks, plan, phase))

    # Every subject watches the same clips, as in DEAP/AMIGOS/MAHNOB: trial k shows stimulus k.
    entry = {"id": rid, "subject": subj.subject, "trial": f"t{t_idx + 1:02d}", "stimulus": f"clip{t_idx + 1:02d}",
             "labels": labels,
             "covariates": {"age": float(subj.age), "sex": float(subj.sex)},
             "modalities": {
                 "eeg": {"path": f"eeg/{rid}.edf", "format": "edf", "sfreq": EEG_SFREQ,
                         "channels": list(EEG_CHANNELS), "offset_s": offsets["eeg"]},
                 "ecg": {"path": f"ecg/{rid}.edf", "format": "edf", "sfreq": ECG_SFREQ, "channels": ["ECG"],
                         "offset_s": offsets["ecg"]},
                 "video": {"path": f"video/{rid}.mp4", "format": "mp4", "offset_s": offsets["video"]},
                 "audio": {"path": f"audio/{rid}.wav", "format": "wav", "sfreq": float(AUDIO_SR),
                           "offset_s": offsets["audio"]}}}
    truth = {"subject": subj.subject, "trial": entry["trial"], "factors": z, "labels": labels,
             "offsets_s": offsets, "heart_rate_bpm": _r(hr, 3), "f0_base_hz": _r(f0_base, 3),
             "face_gain": _r(math.exp(FACE_LOG_GAIN_PER_Z * z["video_valence"])),
             "alpha_log_power_ratio_right_left": _r(2 * (ASYM_PER_Z * z["eeg_valence"] + subj.physio.asym_bias)),
             "r_peaks_s": [_r(p) for p in peaks], "blinks_s": [float(b) for b in blinks],
             "voiced_segments_s": [[_r(s), _r(e)] for s, e in plan.voiced_segments()],
             "video_frames": n_frames, "f0": f0_truth(plan, offsets["audio"], duration_s)}
    return entry, truth


def _check_args(subjects: int, trials: int, duration_s: float) -> None:
    if subjects < 1 or trials < 1:
        raise ConfigError(f"synth demo: subjects ({subjects}) and trials ({trials}) must be >= 1.")
    if not 4.0 <= duration_s <= 600.0:
        raise ConfigError(f"synth demo: duration_s={duration_s} is out of range. Use 4 to 600 seconds.")
    if duration_s != int(duration_s):
        raise ConfigError(f"synth demo: duration_s={duration_s} is not a whole number of seconds; EDF stores "
                          "1 s data records and would pad the signals. Use e.g. 20.")


def generate_demo(out_dir: Path, subjects: int = 6, trials: int = 4, duration_s: float = 20.0, seed: int = 0,
                  on_recording: Callable[[str], None] | None = None) -> Path:
    """Write the demo dataset under ``out_dir`` and return the path of its ``data_manifest.yaml``.

    Files: ``eeg/<id>.edf`` (14 EEG channels, 128 Hz), ``ecg/<id>.edf`` (channel 'ECG', 256 Hz),
    ``video/<id>.mp4`` (H.264, 25 fps, 64x64), ``audio/<id>.wav`` (16 kHz mono PCM16),
    ``truth.json`` and ``data_manifest.yaml``. Same arguments give byte-identical files.
    ``on_recording(id)`` is called after each recording (for a progress bar).
    """
    _check_args(subjects, trials, duration_s)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    recordings, truth_recs, truth_subjects = [], {}, {}
    for s_idx in range(subjects):
        subj = draw_subject(seed, s_idx)
        truth_subjects[subj.subject] = {k: v for k, v in asdict(subj).items() if k != "subject"}
        for t_idx in range(trials):
            entry, truth = _generate_recording(out, seed, subj, s_idx, t_idx, duration_s)
            recordings.append(entry)
            truth_recs[entry["id"]] = truth
            _log.info("synth demo: wrote %s", entry["id"])
            if on_recording is not None:
                on_recording(entry["id"])
    manifest = {"version": 1, "cache": "cache.zarr", "label_scales": LABEL_SCALES,
                "datasets": [{"name": "demo", "recordings": recordings}]}
    path = out / "data_manifest.yaml"
    dump_manifest(manifest, path)
    truth_doc = {"version": 1, "generator": "pipeline.synth.demo.generate_demo",
                 "args": {"subjects": subjects, "trials": trials, "duration_s": duration_s, "seed": seed},
                 "clock": "all times in seconds on the recording clock (0 = trial start); "
                          "a file's time t is recording time t + offset_s",
                 "label_formulas": LABEL_FORMULAS, "factor_effects": FACTOR_EFFECTS,
                 "covariates": {"sex": "0 = male, 1 = female", "age": "years"},
                 "subjects": truth_subjects, "recordings": truth_recs}
    (out / "truth.json").write_text(json.dumps(truth_doc, separators=(",", ":")) + "\n")
    return path


def load_truth(out_dir: Path) -> dict:
    """Read ``truth.json`` and expand each recording's F0 contour with its frame times."""
    doc = json.loads((Path(out_dir) / "truth.json").read_text())
    for rec in doc["recordings"].values():
        f0 = rec["f0"]
        f0["times_s"] = [round(f0["t0_s"] + i * f0["hop_s"], 6) for i in range(len(f0["f0_hz"]))]
    return doc
