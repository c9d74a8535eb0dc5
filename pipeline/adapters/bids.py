"""EEG-BIDS adapter: one recording per EEG file, or per event of chosen trial types.

Layout (BIDS specification, EEG section; found with ``mne_bids.BIDSPath.match``):
  ROOT/participants.tsv                                   age, sex -> covariates
  ROOT/sub-<s>[/ses-<x>]/eeg/sub-<s>[_ses-<x>]_task-<t>[_run-<r>]_eeg.(edf|bdf|vhdr|set|fif)
  ... _channels.tsv (type EEG / ECG per channel), ... _events.tsv (onset, duration, trial_type)
Files are read with ``mne_bids.read_raw_bids`` (header only): ECG-typed channels become an 'ecg'
stream of the same file, channels whose channels.tsv status is 'bad' are left out of both picks
(and listed in the EEG stream's ``options.bad_channels``), and the sidecar's PowerLineFrequency
becomes ``options.line_freq_hz``, the EEG notch for that recording. With
``trial_types=(...)`` every event of those types with a positive duration becomes a recording
cropped to [onset, onset + duration) (``options.crop_s``); ``label_columns`` then names numeric
events.tsv columns to use as labels, with their ``label_scales``.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.adapters.draft import ManifestDraft
from pipeline.errors import ConfigError
from pipeline.manifest import EXTENSION_FORMATS

LABEL_SCALES: dict[str, dict[str, float]] = {}
_EXTENSIONS = (".edf", ".bdf", ".vhdr", ".set", ".fif")
SEX_CODES = {"m": 0.0, "male": 0.0, "f": 1.0, "female": 1.0}   # covariate 'sex': 0 male, 1 female


def _tsv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _number(text: str | None) -> float | None:
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _participants(root: Path) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for row in _tsv(root / "participants.tsv"):
        sub = (row.get("participant_id") or "").removeprefix("sub-")
        cov: dict[str, float] = {}
        if (age := _number(row.get("age"))) is not None:
            cov["age"] = age
        if (sex := (row.get("sex") or "").strip().lower()) in SEX_CODES:
            cov["sex"] = SEX_CODES[sex]
        out[sub] = cov
    return out


@dataclass(frozen=True)
class _FileInfo:
    """What mne-bids reads from one recording's sidecars: channel picks, bad channels, mains frequency."""

    eeg: list[str]
    ecg: list[str]
    bads: list[str]
    line_freq_hz: float | None

    def stream_options(self) -> dict[str, Any]:
        """Per-recording facts the extractors honour (EEG notch) or that the user should see (bads)."""
        return {**({"line_freq_hz": self.line_freq_hz} if self.line_freq_hz else {}),
                **({"bad_channels": list(self.bads)} if self.bads else {})}


def _file_info(bids_path: Any) -> _FileInfo:
    """Channel types and 'bad' status from channels.tsv, PowerLineFrequency from the _eeg.json
    sidecar, as mne-bids resolves them (header only; no signal is loaded)."""
    from mne_bids import read_raw_bids

    raw = read_raw_bids(bids_path, verbose="ERROR")
    bads = list(raw.info["bads"])
    types = dict(zip(raw.ch_names, raw.get_channel_types()))
    line = raw.info.get("line_freq")
    return _FileInfo(eeg=[n for n, t in types.items() if t == "eeg" and n not in bads],
                     ecg=[n for n, t in types.items() if t == "ecg" and n not in bads],
                     bads=bads, line_freq_hz=float(line) if line else None)


def _streams(draft: ManifestDraft, fpath: Path, info: _FileInfo, options: dict[str, Any]) -> dict[str, Any]:
    fmt = EXTENSION_FORMATS[fpath.suffix.lower()]
    base = {"path": draft.rel(fpath), "format": fmt}
    streams = {"eeg": {**base, "channels": info.eeg, "options": {**options, **info.stream_options()}}}
    if info.ecg:
        streams["ecg"] = {**base, "channels": info.ecg, "options": dict(options)}
    return streams


def _event_recordings(draft: ManifestDraft, bp: Any, record: dict[str, Any], trial_types: tuple[str, ...],
                      label_columns: tuple[str, ...], info: _FileInfo) -> None:
    events_path = Path(bp.copy().update(suffix="events", extension=".tsv").fpath)
    rows = [r for r in _tsv(events_path) if r.get("trial_type") in trial_types]
    if not rows:
        draft.skip(f"{draft.rel(bp.fpath)}: no events of type {list(trial_types)} in {events_path.name}; file skipped.")
        return
    for k, row in enumerate(rows, start=1):
        onset, duration = _number(row.get("onset")), _number(row.get("duration"))
        rid = f"{record['id']}_ev{k:03d}"
        if onset is None or duration is None or duration <= 0 or onset < 0:
            draft.skip(f"{draft.rel(events_path)}: event {k} ({row.get('trial_type')}) has onset/duration "
                       f"{row.get('onset')}/{row.get('duration')}; '{rid}' not listed.")
            continue
        labels = {c: v for c in label_columns if (v := _number(row.get(c))) is not None}
        crop = {"crop_s": [onset, onset + duration]}
        draft.add({**record, "id": rid, "trial": f"{row['trial_type']}-{k:03d}", "labels": labels,
                   "modalities": _streams(draft, Path(bp.fpath), info, crop)})


def build(root: Path, draft: ManifestDraft, trial_types: tuple[str, ...] = (),
          label_columns: tuple[str, ...] = (), label_scales: dict[str, dict[str, float]] | None = None) -> None:
    """Fill ``draft`` from an EEG-BIDS folder."""
    from mne_bids import BIDSPath, get_entity_vals

    draft.label_scales.update(label_scales or {})
    covariates = _participants(root)
    paths = [p for p in BIDSPath(root=root, datatype="eeg", suffix="eeg").match() if p.extension in _EXTENSIONS]
    with_files = {p.subject for p in paths}
    for sub in get_entity_vals(root, "subject"):
        if sub not in with_files:
            draft.skip(f"sub-{sub}: no EEG file ({', '.join(_EXTENSIONS)}) under sub-{sub}/.../eeg/; subject skipped.")
    for bp in sorted(paths, key=lambda p: str(p.fpath)):
        try:
            info = _file_info(bp)
        except Exception as e:  # mne-bids raises many types for non-compliant sidecars
            draft.skip(f"{draft.rel(Path(bp.fpath))}: mne-bids cannot read it or its sidecars "
                       f"({type(e).__name__}: {e}); file skipped. Validate the folder with the BIDS validator.")
            continue
        if not info.eeg:
            draft.skip(f"{draft.rel(Path(bp.fpath))}: no good EEG channel (channels.tsv bad: {info.bads}); file skipped.")
            continue
        if info.bads:
            draft.note(f"{draft.rel(Path(bp.fpath))}: channels.tsv marks {info.bads} bad; left out of the picks.")
        trial = "_".join(f"{k}-{v}" for k, v in (("task", bp.task), ("acq", bp.acquisition), ("run", bp.run)) if v)
        record = {"id": Path(bp.fpath).stem.removesuffix("_eeg"), "subject": f"sub-{bp.subject}",
                  "session": f"ses-{bp.session}" if bp.session else None, "trial": trial or None,
                  "covariates": covariates.get(bp.subject, {})}
        if trial_types:
            _event_recordings(draft, bp, record, tuple(trial_types), tuple(label_columns), info)
        else:
            draft.add({**record, "labels": {}, "modalities": _streams(draft, Path(bp.fpath), info, {})})
    if not paths:
        draft.skip(f"{root}: no EEG-BIDS recordings (sub-*/[ses-*/]eeg/*_eeg.*) found.")


def bids_options(trial_types: list[str] | None, label_columns: list[str] | None,
                label_scales: list[str] | None) -> dict[str, Any]:
    """``build`` options from ``cli manifest from bids`` flags; NAME=MIN:MAX[:THRESHOLD] label scales."""

    options: dict[str, Any] = {}
    if trial_types:
        options["trial_types"] = list(trial_types)
    if label_columns:
        options["label_columns"] = list(label_columns)
    scales: dict[str, dict[str, float]] = {}
    for item in label_scales or []:
        try:
            name, rng = item.split("=", 1)
            parts = [float(x) for x in rng.split(":")]
            scales[name] = {"min": parts[0], "max": parts[1], **({"threshold": parts[2]} if len(parts) > 2 else {})}
        except (ValueError, IndexError):
            raise ConfigError(f"--label-scale '{item}': expected NAME=MIN:MAX[:THRESHOLD], e.g. valence=1:9:5") from None
    if scales:
        options["label_scales"] = scales
    return options
