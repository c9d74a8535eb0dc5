"""DREAMER adapter: one ``DREAMER.mat`` holding 23 subjects x 18 film clips (EEG, ECG, scores).

Layout (Katsigiannis & Ramzan 2018 and TorchEEG DREAMERDataset; memory, see layouts.py):
  ROOT/DREAMER.mat   struct DREAMER.Data{subject}.{Age, Gender, EEG, ECG, ScoreValence, ...}
One recording per subject x film; its EEG (128 Hz) and ECG (256 Hz) streams read the 'stimuli'
part; the neutral-clip baseline of the same film is available with ``options.part: baseline``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pipeline.adapters import layouts as L
from pipeline.adapters.containers import as_list, load_cached
from pipeline.adapters.draft import ManifestDraft, rating_scales
from pipeline.adapters.container_readers import dreamer_signal, dreamer_subjects
from pipeline.errors import ExtractionError, ManifestError

LABEL_SCALES = rating_scales((name for name, _ in L.DREAMER_SCORES), 1, 5, threshold=L.DREAMER_THRESHOLD)
SEX_CODES = {"male": 0.0, "m": 0.0, "female": 1.0, "f": 1.0}   # covariate 'sex': 0 male, 1 female


def _find(root: Path) -> Path:
    found = sorted(p for depth in ("", "*/", "*/*/") for p in root.glob(f"{depth}DREAMER.mat"))
    if not found:
        raise ManifestError(["DREAMER.mat not found under the dataset root (looked 2 folders deep). "
                             "Point ROOT at the folder holding DREAMER.mat."], str(root))
    return found[0]


def covariates(subject: dict[str, Any]) -> dict[str, float]:
    """Age (years) and sex (0 male, 1 female) when the file gives them in a readable form."""
    out: dict[str, float] = {}
    age = subject.get("Age")
    try:
        out["age"] = float(age.strip() if isinstance(age, str) else np.asarray(age).ravel()[0])
    except (AttributeError, TypeError, ValueError, IndexError):
        pass  # absent or not a number: no 'age' covariate
    gender = subject.get("Gender")
    if isinstance(gender, str) and gender.strip().lower() in SEX_CODES:
        out["sex"] = SEX_CODES[gender.strip().lower()]
    return out


def _stream(draft: ManifestDraft, path: Path, sfreq: float, si: int, fi: int) -> dict:
    return {"path": draft.rel(path), "format": "dreamer_mat", "sfreq": sfreq,
            "options": {"subject_index": si, "film_index": fi, "part": "stimuli"}}


def _signal_ok(subject: dict, signal: str, fi: int, n_channels: int) -> str | None:
    """None when the film's stimulus array has the right shape, else what is wrong."""
    try:
        arr = dreamer_signal(subject, signal, "stimuli", fi)
    except (KeyError, IndexError, TypeError, ValueError) as e:
        return f"{signal}.stimuli{{{fi + 1}}} unreadable ({type(e).__name__}: {e})"
    if arr.ndim != 2 or arr.shape[1] != n_channels or arr.shape[0] == 0:
        return f"{signal}.stimuli{{{fi + 1}}} has shape {arr.shape}, expected (samples, {n_channels})"
    return None


def _add_subject(draft: ManifestDraft, path: Path, top: dict, si: int, subject: dict) -> None:
    where = f"{draft.rel(path)}: DREAMER.Data{{{si + 1}}}"
    try:
        n_films = len(as_list(subject["EEG"]["stimuli"]))
        scores = {name: np.asarray(subject[key], dtype=float).ravel() for name, key in L.DREAMER_SCORES}
    except (KeyError, TypeError, ValueError) as e:
        draft.skip(f"{where}: subject struct incomplete ({type(e).__name__}: {e}); subject skipped.")
        return
    eeg_sfreq = float(top.get("EEG_SamplingRate", L.DREAMER_EEG_SFREQ))
    ecg_sfreq = float(top.get("ECG_SamplingRate", L.DREAMER_ECG_SFREQ))
    for fi in range(n_films):
        rid = f"dreamer-s{si + 1:02d}-f{fi + 1:02d}"
        problem = _signal_ok(subject, "EEG", fi, len(L.DREAMER_EEG_CHANNELS))
        if problem or any(len(s) <= fi for s in scores.values()):
            draft.skip(f"{where}: {problem or f'no score for film {fi + 1}'}; recording '{rid}' skipped.")
            continue
        modalities = {"eeg": _stream(draft, path, eeg_sfreq, si, fi)}
        ecg_problem = _signal_ok(subject, "ECG", fi, len(L.DREAMER_ECG_CHANNELS))
        if ecg_problem:
            draft.skip(f"{where}: {ecg_problem}; recording '{rid}' kept without ECG.")
        else:
            modalities["ecg"] = _stream(draft, path, ecg_sfreq, si, fi)
        draft.add({"id": rid, "subject": f"dreamer-s{si + 1:02d}", "trial": f"f{fi + 1:02d}",
                   "stimulus": f"f{fi + 1:02d}",
                   "labels": {name: float(s[fi]) for name, s in scores.items()},
                   "covariates": covariates(subject), "modalities": modalities})


def build(root: Path, draft: ManifestDraft) -> None:
    """Fill ``draft`` from a DREAMER download."""
    path = _find(root)
    try:
        top, subjects = dreamer_subjects(load_cached(path, "mat"), path)
    except ExtractionError as e:
        raise ManifestError([str(e)], str(path)) from e
    for si, subject in enumerate(subjects):
        _add_subject(draft, path, top, si, subject)
    draft.note("covariate 'sex': 0 = male, 1 = female (from DREAMER's Gender field).")
