"""AMIGOS adapter: ``Data_Preprocessed_Pxx.mat`` per participant, plus face videos where present.

Layout (AMIGOS website and TorchEEG AMIGOSDataset; memory, see layouts.py):
  ROOT/**/Data_Preprocessed_Pxx.mat   joined_data{1x20} (samples x 17 at 128 Hz),
                                      labels_selfassessment{1x20} (1 x 12), VideoIDs{1x20}
  ROOT/**/Pxx_<VideoID>_face.(mov|mp4|avi)   frontal face video of that trial (memory; checked by name)
One recording per participant x video; the EEG and ECG streams read the same trial of the .mat.
Empty trials are reported: as 'excluded' for the participants AMIGOS itself lists as incomplete,
as 'skipped' otherwise.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from pipeline.adapters import layouts as L
from pipeline.adapters.containers import as_list, load_cached
from pipeline.adapters.draft import ManifestDraft, rating_scales
from pipeline.adapters.probe import duration_mismatch, video_duration_s
from pipeline.adapters.container_readers import amigos_channels
from pipeline.errors import ExtractionError

LABEL_SCALES = rating_scales(L.AMIGOS_LABELS, 1, 9, threshold=5)
_FILE_RE = re.compile(r"^Data_Preprocessed_P(\d+)\.mat$")
_VIDEO_RE = re.compile(r"^P0*(\d+)_([A-Za-z]*\d+)_face\.(mov|mp4|avi|mkv)$", re.IGNORECASE)
_VARIABLES = ("joined_data", "labels_selfassessment", "VideoIDs")


def _files(root: Path) -> dict[int, Path]:
    found = sorted(p for depth in ("", "*/", "*/*/", "*/*/*/") for p in root.glob(f"{depth}Data_Preprocessed_P*.mat"))
    return {int(m.group(1)): p for p in found if (m := _FILE_RE.match(p.name))}


def _video_token(value: object) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "", str(np.asarray(value).ravel()[0] if not isinstance(value, str) else value))


def _incomplete(draft: ManifestDraft, pid: int, message: str) -> None:
    if pid in L.AMIGOS_KNOWN_INCOMPLETE:
        draft.exclude(f"{message} (participant {pid} is listed as incomplete by AMIGOS)")
    else:
        draft.skip(message)


def _add_participant(draft: ManifestDraft, pid: int, path: Path, durations: dict[str, float]) -> None:
    try:
        content = load_cached(path, "mat")
        missing = [v for v in _VARIABLES if v not in content]
        if missing:
            raise ExtractionError(f"{path}: variable(s) {missing} missing")
        trials, ratings, videos = (as_list(content[v]) for v in _VARIABLES)
    except ExtractionError as e:
        draft.skip(f"{draft.rel(path)}: {str(e).split(': ', 1)[-1]}; participant skipped.")
        return
    if not len(trials) == len(ratings) == len(videos):
        draft.skip(f"{draft.rel(path)}: joined_data/labels_selfassessment/VideoIDs have {len(trials)}/"
                   f"{len(ratings)}/{len(videos)} trials; participant skipped.")
        return
    n_channels = len(amigos_channels()[0])
    for t, (arr, rating, vid) in enumerate(zip(trials, ratings, videos)):
        arr, token = np.asarray(arr), _video_token(vid)
        rid = f"amigos-p{pid:02d}-{token}"
        if arr.ndim != 2 or arr.shape[1] != n_channels or arr.shape[0] == 0:
            _incomplete(draft, pid, f"{draft.rel(path)}: trial {t + 1} (video {token}) has joined_data shape "
                                    f"{arr.shape}; recording '{rid}' not listed")
            continue
        values = np.asarray(rating, dtype=float).ravel()
        labels = {n: float(values[i]) for i, n in enumerate(L.AMIGOS_LABELS)
                  if i < values.size and np.isfinite(values[i])}
        stream = {"path": draft.rel(path), "format": "amigos_mat", "sfreq": L.AMIGOS_SFREQ,
                  "options": {"trial_index": t}}
        draft.add({"id": rid, "subject": f"amigos-p{pid:02d}", "trial": token, "stimulus": token, "labels": labels,
                   "modalities": {"eeg": dict(stream), "ecg": dict(stream)}})
        durations[rid] = arr.shape[0] / L.AMIGOS_SFREQ


def _attach_videos(root: Path, durations: dict[str, float], draft: ManifestDraft) -> None:
    for path in sorted(p for p in root.rglob("*") if _VIDEO_RE.match(p.name)):
        m = _VIDEO_RE.match(path.name)
        rid = f"amigos-p{int(m.group(1)):02d}-{m.group(2)}"
        if rid not in draft.recordings:
            draft.skip(f"{draft.rel(path)}: no trial with video {m.group(2)} for participant {int(m.group(1))}; "
                       "not attached.")
            continue
        try:
            length = video_duration_s(path)
        except ExtractionError as e:
            draft.skip(f"{draft.rel(path)}: {str(e).split(': ', 1)[-1]} Not attached to '{rid}'.")
            continue
        if duration_mismatch(length, durations[rid]):
            draft.skip(f"{draft.rel(path)}: video lasts {length:.1f} s but trial '{rid}' lasts "
                       f"{durations[rid]:.1f} s; it does not match its trial and is not attached.")
            continue
        draft.recordings[rid]["modalities"]["video"] = {"path": draft.rel(path), "format": m.group(3).lower(),
                                                        "offset_s": 0.0}


def build(root: Path, draft: ManifestDraft) -> None:
    """Fill ``draft`` from an AMIGOS download."""
    files = _files(root)
    if not files:
        from pipeline.errors import ManifestError

        raise ManifestError(["no Data_Preprocessed_Pxx.mat found (looked 3 folders deep). Unzip AMIGOS's "
                             "preprocessed data under the dataset root."], str(root))
    for pid in sorted(set(range(1, max(files) + 1)) - set(files)):
        _incomplete(draft, pid, f"Data_Preprocessed_P{pid:02d}.mat: missing (participants are numbered 1-{max(files)})")
    durations: dict[str, float] = {}
    for pid, path in files.items():
        _add_participant(draft, pid, path, durations)
    _attach_videos(root, durations, draft)
    draft.note("AMIGOS ratings that are NaN in labels_selfassessment are left out of 'labels'.")
