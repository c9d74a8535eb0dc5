"""MAHNOB-HCI adapter: emotion-elicitation sessions with their BDF, camera video and audio.

Layout (MAHNOB-HCI manual; memory, see layouts.py):
  ROOT/Sessions/<n>/session.xml                 feltVlnc/feltArsl/feltCtrl, mediaFile, <subject id>,
                                                <track type=... filename=...>
  ROOT/Sessions/<n>/Part_<s>_S_Trial<k>_emotion.bdf   32 EEG + EXG1-3 (ECG) + Status
  ROOT/Sessions/<n>/*.avi, audio                 camera recordings of the same session
One recording per emotion session. The stimulus span comes from the Status channel (first to last
non-zero trigger sample) and is applied as ``options.crop_s`` to every stream of the session, so the
recording clock starts at stimulus onset. Sessions without felt ratings (the implicit-tagging
experiment) are 'excluded', not errors.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from pipeline.adapters import layouts as L
from pipeline.adapters.draft import ManifestDraft
from pipeline.adapters.probe import duration_mismatch, read_status, video_duration_s
from pipeline.errors import ExtractionError
from pipeline.manifest import EXTENSION_FORMATS, FORMATS

LABEL_SCALES = {name: {"min": 1.0, "max": 9.0, "threshold": 5.0} for name, _ in L.MAHNOB_LABELS}
MIN_STIMULUS_S = 1.0


def _session_dirs(root: Path) -> list[Path]:
    base = root / "Sessions" if (root / "Sessions").is_dir() else root
    dirs = [d for d in base.iterdir() if d.is_dir()]
    return sorted(dirs, key=lambda d: (0, int(d.name)) if d.name.isdigit() else (1, d.name))


def _parse(xml: Path, draft: ManifestDraft) -> ET.Element | None:
    if not xml.exists():
        draft.skip(f"{draft.rel(xml.parent)}: no session.xml; session skipped.")
        return None
    try:
        return ET.parse(xml).getroot()
    except ET.ParseError as e:
        draft.skip(f"{draft.rel(xml)}: not valid XML ({e}); session skipped.")
        return None


def _tracks(session: ET.Element, folder: Path, kind: str) -> list[Path]:
    return [folder / t.get("filename", "") for t in session.iter("track")
            if (t.get("type") or "").lower() == kind.lower() and t.get("filename")]


def _bdf(session: ET.Element, folder: Path) -> Path | None:
    listed = [p for p in _tracks(session, folder, "Physiological") if p.suffix.lower() == ".bdf"]
    found = listed or sorted(folder.glob("*_emotion.bdf"))
    return found[0] if found else None


def _labels(session: ET.Element) -> dict[str, float] | None:
    try:
        return {name: float(session.attrib[key]) for name, key in L.MAHNOB_LABELS}
    except (KeyError, ValueError):
        return None


def _media_stream(path: Path, kind: str, crop: list[float], bdf_s: float, rid: str,
                  draft: ManifestDraft) -> dict | None:
    """A video/audio stream cropped like the BDF, or None (reported) when it cannot be used."""
    fmt = EXTENSION_FORMATS.get(path.suffix.lower())
    if not path.exists():
        draft.skip(f"{draft.rel(path.parent)}/{path.name}: listed in session.xml but missing; "
                   f"'{rid}' kept without {kind}.")
        return None
    if fmt not in FORMATS[kind]:
        draft.skip(f"{draft.rel(path)}: {kind} format '{path.suffix}' is not supported; '{rid}' kept without it.")
        return None
    if kind == "video":
        try:
            length = video_duration_s(path)
        except ExtractionError as e:
            draft.skip(f"{draft.rel(path)}: {str(e).split(': ', 1)[-1]} Not attached to '{rid}'.")
            return None
        if duration_mismatch(length, bdf_s):
            draft.skip(f"{draft.rel(path)}: video lasts {length:.1f} s but the session's BDF lasts {bdf_s:.1f} s; "
                       f"it does not match its trial and is not attached to '{rid}'.")
            return None
    return {"path": draft.rel(path), "format": fmt, "offset_s": 0.0, "options": {"crop_s": list(crop)}}


def _face_video(session: ET.Element, folder: Path) -> Path | None:
    videos = _tracks(session, folder, "Video")
    front = [p for p in videos if L.MAHNOB_FACE_CAMERA in p.name]
    return (front or videos or [None])[0]


def _add_session(folder: Path, draft: ManifestDraft) -> None:
    session = _parse(folder / "session.xml", draft)
    if session is None:
        return
    labels = _labels(session)
    if labels is None:
        draft.exclude(f"{draft.rel(folder)}: no felt ratings (not an emotion-elicitation session).")
        return
    subject_el = session.find("subject")
    subject = subject_el.get("id") if subject_el is not None else None
    bdf = _bdf(session, folder)
    if not subject or bdf is None or not bdf.exists():
        what = "no <subject id>" if not subject else "physiological BDF missing"
        draft.skip(f"{draft.rel(folder)}: {what}; session skipped.")
        return
    try:
        status = read_status(bdf)
    except ExtractionError as e:
        draft.skip(f"{draft.rel(bdf)}: {str(e).split(': ', 1)[-1]}")
        return
    span = status.nonzero_span()
    if span is None or span[1] - span[0] < MIN_STIMULUS_S:
        draft.skip(f"{draft.rel(bdf)}: no stimulus span on the Status channel; session skipped.")
        return
    crop = [round(span[0], 6), round(span[1], 6)]
    sid = f"{int(subject):02d}" if subject.isdigit() else re.sub(r"\W+", "", subject)
    rid = f"mahnob-s{sid}-{folder.name}"
    bdf_stream = {"path": draft.rel(bdf), "format": "bdf", "sfreq": status.sfreq, "options": {"crop_s": crop}}
    modalities = {"eeg": {**bdf_stream, "channels": list(L.MAHNOB_EEG_CHANNELS)},
                  "ecg": {**bdf_stream, "channels": list(L.MAHNOB_ECG_CHANNELS), "options": {"crop_s": list(crop)}}}
    video = _face_video(session, folder)
    if video is not None and (stream := _media_stream(video, "video", crop, status.duration_s, rid, draft)):
        modalities["video"] = stream
    for audio in _tracks(session, folder, "Audio")[:1]:
        if stream := _media_stream(audio, "audio", crop, status.duration_s, rid, draft):
            modalities["audio"] = stream
    media = Path(session.get("mediaFile", "")).stem
    draft.add({"id": rid, "subject": f"mahnob-s{sid}", "session": folder.name,
               "trial": f"m{media}" if media else folder.name, "labels": labels, "modalities": modalities})


def build(root: Path, draft: ManifestDraft) -> None:
    """Fill ``draft`` from a MAHNOB-HCI download."""
    for folder in _session_dirs(root):
        _add_session(folder, draft)
    draft.note("recording clock 0 = stimulus onset (Status channel); video/audio carry the same options.crop_s.")
