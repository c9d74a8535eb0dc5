"""DEAP adapter: preprocessed .dat/.mat files or raw BDF, plus the frontal face videos.

Layout (DEAP README and website; memory, see layouts.py):
  ROOT/data_preprocessed_python/sXX.dat   (or data_preprocessed_matlab/sXX.mat)  - preferred
  ROOT/data_original/sXX.bdf              - raw 512 Hz BDF, trials located on the Status channel
  ROOT/**/participant_ratings.csv         - maps presentation order (Trial) to video (Experiment_id)
  ROOT/face_video/sXX/sXX_trialYY.avi     - participants 1-22, YY in presentation order
One recording per participant x music video; the recording clock starts at music-video onset
(the 3 s pre-trial baseline of the preprocessed files is available with ``part: baseline``).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.adapters import layouts as L
from pipeline.adapters.containers import load_cached
from pipeline.adapters.draft import ManifestDraft, rating_scales
from pipeline.adapters.probe import duration_mismatch, read_status, video_duration_s
from pipeline.adapters.container_readers import check_deap_content
from pipeline.errors import ExtractionError, ManifestError

LABEL_SCALES = rating_scales(L.DEAP_LABELS, 1, 9, threshold=5)
_FILE_RE = re.compile(r"^s(\d{2})\.(dat|mat|bdf)$")
_VIDEO_RE = re.compile(r"^s(\d{2})_trial(\d{2})\.avi$", re.IGNORECASE)
_VARIANTS = (("data_preprocessed_python", "dat"), ("data_preprocessed_matlab", "mat"), ("data_original", "bdf"))
_VIDEO_DIRS = ("face_video", "Video", "video", "face_videos")
NO_ECG_NOTE = ("DEAP records no ECG: its peripheral channels are EOG, EMG, GSR, respiration, "
               "plethysmograph and temperature, so no 'ecg' stream is listed.")


@dataclass(frozen=True)
class Rating:
    experiment_id: int
    labels: dict[str, float]


@dataclass
class _Trials:
    """Recording ids by (participant, presentation trial) and their stimulus lengths (s)."""

    by_presentation: dict[tuple[int, int], str]
    duration_s: dict[str, float]


def _rid(pid: int, exp_id: int) -> str:
    return f"deap-s{pid:02d}-v{exp_id:02d}"


def _recording(pid: int, exp_id: int, labels: dict[str, float], eeg: dict) -> dict:
    return {"id": _rid(pid, exp_id), "subject": f"deap-s{pid:02d}", "trial": f"v{exp_id:02d}",
            "stimulus": f"v{exp_id:02d}",
            "labels": labels, "modalities": {"eeg": eeg}}


def read_ratings(root: Path, draft: ManifestDraft) -> dict[tuple[int, int], Rating] | None:
    """participant_ratings.csv as {(participant, presentation trial): Rating}, or None if absent."""
    found = sorted(p for depth in ("", "*/", "*/*/") for p in root.glob(f"{depth}participant_ratings.csv"))
    if not found:
        return None
    path = found[0]
    out: dict[tuple[int, int], Rating] = {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in L.DEAP_RATING_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            draft.skip(f"{draft.rel(path)}: missing column(s) {missing}; ratings ignored. Use DEAP's original file.")
            return None
        for n, row in enumerate(reader, start=2):
            try:
                key = (int(row["Participant_id"]), int(row["Trial"]))
                labels = {k.lower(): float(row[k]) for k in ("Valence", "Arousal", "Dominance", "Liking")}
                out[key] = Rating(int(row["Experiment_id"]), labels)
            except (TypeError, ValueError):
                draft.skip(f"{draft.rel(path)}: line {n} is not numeric; that rating is ignored.")
    return out


def _find_subject_files(root: Path) -> tuple[str, dict[int, Path]]:
    for folder, variant in _VARIANTS:
        files = _subject_files(root / folder, variant)
        if files:
            return variant, files
    for variant in ("dat", "mat", "bdf"):
        files = _subject_files(root, variant)
        if files:
            return variant, files
    raise ManifestError([f"no DEAP subject files found. Expected {', '.join(f'{d}/sXX.{v}' for d, v in _VARIANTS)} "
                         "under the dataset root. Point ROOT at the folder that holds them."], str(root))


def _subject_files(folder: Path, variant: str) -> dict[int, Path]:
    if not folder.is_dir():
        return {}
    return {int(m.group(1)): p for p in sorted(folder.iterdir())
            if (m := _FILE_RE.match(p.name)) and m.group(2) == variant}


def _report_missing(files: dict[int, Path], ratings: dict | None, variant: str, draft: ManifestDraft) -> None:
    expected = set(range(1, max(files) + 1)) | ({p for p, _ in ratings} if ratings else set())
    folder = next(iter(files.values())).parent
    for pid in sorted(expected - set(files)):
        draft.skip(f"{draft.rel(folder)}/s{pid:02d}.{variant}: missing (participant {pid} is expected from the "
                   "numbering/participant_ratings.csv). Download it or ignore this line.")


def _from_preprocessed(files: dict[int, Path], variant: str, ratings: dict | None, draft: ManifestDraft) -> _Trials:
    trials = _Trials({}, {})
    n_base = int(round(L.DEAP_BASELINE_S * L.DEAP_SFREQ))
    for pid, path in files.items():
        try:
            data, labels = check_deap_content(load_cached(path, "pickle" if variant == "dat" else "mat"), path)
        except ExtractionError as e:
            draft.skip(f"{draft.rel(path)}: {str(e).split(': ', 1)[-1]}")
            continue
        for t in range(data.shape[0]):
            exp_id = t + 1  # preprocessed trials are in Experiment_id order (DEAP README; memory)
            eeg = {"path": draft.rel(path), "format": f"deap_{variant}", "sfreq": L.DEAP_SFREQ,
                   "options": {"trial_index": t, "part": "stimulus", "baseline_s": L.DEAP_BASELINE_S}}
            lab = {name: float(labels[t, i]) for i, name in enumerate(L.DEAP_LABELS)}
            draft.add(_recording(pid, exp_id, lab, eeg))
            trials.duration_s[_rid(pid, exp_id)] = (data.shape[2] - n_base) / L.DEAP_SFREQ
        for (p, shown), rating in (ratings or {}).items():
            if p == pid:
                trials.by_presentation[(pid, shown)] = _rid(pid, rating.experiment_id)
    return trials


def _from_raw(files: dict[int, Path], ratings: dict | None, draft: ManifestDraft) -> _Trials:
    trials = _Trials({}, {})
    if not ratings:
        draft.skip("participant_ratings.csv: not found; raw BDF trials cannot be labelled or matched to videos. "
                   "Put DEAP's metadata CSV files under the dataset root.")
        return trials
    for pid, path in files.items():
        shown = sorted(t for p, t in ratings if p == pid)
        try:
            status = read_status(path)
        except ExtractionError as e:
            draft.skip(f"{draft.rel(path)}: {str(e).split(': ', 1)[-1]}")
            continue
        starts, ends = status.onsets(L.DEAP_STATUS_VIDEO_START), status.onsets(L.DEAP_STATUS_VIDEO_END)
        if len(starts) != len(shown):
            draft.skip(f"{draft.rel(path)}: {len(starts)} music-video onsets (Status code "
                       f"{L.DEAP_STATUS_VIDEO_START}) but {len(shown)} rated trials; participant skipped.")
            continue
        for t, start in zip(shown, starts):
            later = ends[ends > start]
            if later.size == 0:
                draft.skip(f"{draft.rel(path)}: trial {t} has no end marker (Status code {L.DEAP_STATUS_VIDEO_END}).")
                continue
            rating = ratings[(pid, t)]
            eeg = {"path": draft.rel(path), "format": "bdf", "sfreq": status.sfreq,
                   "channels": list(L.DEAP_EEG_CHANNELS),
                   "options": {"crop_s": [round(float(start), 6), round(float(later[0]), 6)]}}
            draft.add(_recording(pid, rating.experiment_id, dict(rating.labels), eeg))
            rid = _rid(pid, rating.experiment_id)
            trials.by_presentation[(pid, t)] = rid
            trials.duration_s[rid] = float(later[0] - start)
    return trials


def _attach_videos(root: Path, trials: _Trials, have_ratings: bool, draft: ManifestDraft) -> None:
    videos = sorted(p for d in _VIDEO_DIRS if (root / d).is_dir() for p in (root / d).rglob("*")
                    if _VIDEO_RE.match(p.name))
    if videos and not have_ratings:
        draft.skip(f"{len(videos)} face video(s) not attached: participant_ratings.csv is needed to match "
                   "presentation order (video names) to the trials. Put it under the dataset root.")
        return
    for path in videos:
        m = _VIDEO_RE.match(path.name)
        pid, shown = int(m.group(1)), int(m.group(2))
        folder = re.fullmatch(r"s(\d{2})", path.parent.name)
        rid = trials.by_presentation.get((pid, shown))
        if folder and int(folder.group(1)) != pid:
            draft.skip(f"{draft.rel(path)}: named for participant {pid} but stored in folder {path.parent.name}; "
                       "not attached. Move it to the right folder.")
        elif rid is None or rid not in draft.recordings:
            draft.skip(f"{draft.rel(path)}: no EEG trial {shown} of participant {pid} in this dataset; not attached.")
        else:
            _attach_one(path, rid, trials.duration_s[rid], draft)


def _attach_one(path: Path, rid: str, trial_s: float, draft: ManifestDraft) -> None:
    try:
        length = video_duration_s(path)
    except ExtractionError as e:
        draft.skip(f"{draft.rel(path)}: {str(e).split(': ', 1)[-1]} Not attached to '{rid}'.")
        return
    if duration_mismatch(length, trial_s):
        draft.skip(f"{draft.rel(path)}: video lasts {length:.1f} s but its trial '{rid}' lasts {trial_s:.1f} s; "
                   "it does not match its trial and is not attached.")
        return
    draft.recordings[rid]["modalities"]["video"] = {"path": draft.rel(path), "format": "avi", "offset_s": 0.0}


def build(root: Path, draft: ManifestDraft) -> None:
    """Fill ``draft`` from a DEAP download."""
    variant, files = _find_subject_files(root)
    ratings = read_ratings(root, draft)
    _report_missing(files, ratings, variant, draft)
    if variant == "bdf":
        trials = _from_raw(files, ratings, draft)
    else:
        trials = _from_preprocessed(files, variant, ratings, draft)
    _attach_videos(root, trials, bool(ratings), draft)
    draft.note(NO_ECG_NOTE)
    draft.note("recording clock 0 = music-video onset; face videos are assumed to start there (offset_s 0).")
