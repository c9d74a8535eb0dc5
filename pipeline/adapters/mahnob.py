"""MAHNOB-HCI adapter: emotion-elicitation sessions with their BDF, face video and audio.

Layout (facts and their sources in layouts.py):
  ROOT/Sessions/<n>/session.xml                 feltVlnc/feltArsl/feltCtrl, mediaFile, cutLenSec,
                                                <subject id>, <track type=... filename=...>
  ROOT/Sessions/<n>/Part_<s>_S_Trial<k>_emotion.bdf   32 EEG + EXG1-3 (ECG) + Status (stimulus session)
  ROOT/Sessions/<n>/Part_<s>_N_Trial<k>_emotion.bdf   neutral clip before stimulus k (excluded)
  ROOT/Sessions/<n>/*C1 trigger*.avi, audio      camera recordings of the same session
One recording per stimulus session. Its clock starts at the first non-zero Status sample, which is
also the face video's first frame (bob.db.hci_tagging): the BDF streams are cropped to the Status
span, the video and audio are placed at offset 0 and cut to the span's length.
"""

from __future__ import annotations

import fnmatch
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from pipeline.adapters import layouts as L
from pipeline.adapters.draft import ManifestDraft, rating_scales
from pipeline.adapters.probe import duration_mismatch, media_duration_s, read_status
from pipeline.errors import ExtractionError
from pipeline.manifest import EXTENSION_FORMATS, FORMATS

LABEL_SCALES = rating_scales((name for name, _ in L.MAHNOB_LABELS), 1, 9, threshold=5)
MIN_STIMULUS_S = 1.0
_NEUTRAL_BDF = re.compile(r"Part_(\w+?)_N_Trial(\d+)_emotion\.bdf$", re.IGNORECASE)


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


def _face_video(session: ET.Element, folder: Path) -> tuple[Path | None, list[Path]]:
    """The frontal camera file, and the Video tracks session.xml lists (for the report).

    A listed 'C1 trigger' track that exists wins; otherwise the folder is searched for
    ``*C1 trigger*.avi`` as the reference does, because listed names and files on disk differ.
    """
    listed = _tracks(session, folder, "Video")
    front = [p for p in listed if L.MAHNOB_FACE_CAMERA.lower() in p.name.lower() and p.exists()]
    if not front:
        front = sorted(p for p in folder.iterdir() if fnmatch.fnmatch(p.name.lower(), L.MAHNOB_FACE_VIDEO_GLOB.lower()))
    return (front[0] if front else None), listed


def _media_stream(path: Path, kind: str, span_s: float, rid: str, draft: ManifestDraft) -> dict | None:
    """A video/audio stream on the trial clock (offset 0, cut to the span), or None (reported)."""
    fmt = EXTENSION_FORMATS.get(path.suffix.lower())
    if fmt not in FORMATS[kind]:
        draft.skip(f"{draft.rel(path)}: {kind} format '{path.suffix}' is not supported; '{rid}' kept without it.")
        return None
    try:
        length = media_duration_s(path, kind)
    except ExtractionError as e:
        draft.skip(f"{draft.rel(path)}: {str(e).split(': ', 1)[-1]} Not attached to '{rid}'.")
        return None
    if abs(length - span_s) > L.MAHNOB_SYNC_TOLERANCE_S:
        attached = not duration_mismatch(length, span_s)
        draft.skip(f"{draft.rel(path)}: {kind} lasts {length:.1f} s but the Status span of its BDF lasts "
                   f"{span_s:.1f} s (more than {L.MAHNOB_SYNC_TOLERANCE_S:g} s apart); "
                   + (f"attached to '{rid}' from the span start, check its sync." if attached else
                      f"it does not match its trial and is not attached to '{rid}'."))
        if not attached:
            return None
    return {"path": draft.rel(path), "format": fmt, "offset_s": 0.0, "options": {"crop_s": [0.0, span_s]}}


def _check_cut_length(session: ET.Element, span_s: float, bdf: Path, draft: ManifestDraft) -> None:
    """Compare the Status span with the stimulus length session.xml gives (``cutLenSec``), if any."""
    try:
        cut = float(session.attrib["cutLenSec"])
    except (KeyError, ValueError):
        return
    if abs(cut - span_s) > L.MAHNOB_SYNC_TOLERANCE_S:
        draft.skip(f"{draft.rel(bdf)}: Status span lasts {span_s:.1f} s but session.xml gives cutLenSec={cut:g} s; "
                   "recording kept, but its clock may not start at the stimulus onset. Check the Status channel.")


def _add_session(folder: Path, draft: ManifestDraft) -> None:
    session = _parse(folder / "session.xml", draft)
    if session is None:
        return
    bdf = _bdf(session, folder)
    if bdf is not None and (neutral := _NEUTRAL_BDF.search(bdf.name)):
        draft.exclude(f"{draft.rel(folder)}: neutral-clip session ({bdf.name}: the neutral video shown before "
                      f"stimulus trial {neutral.group(2)} of subject {neutral.group(1)}; no felt ratings).")
        return
    labels = _labels(session)
    if labels is None:
        what = f" ({bdf.name})" if bdf is not None else ""
        draft.exclude(f"{draft.rel(folder)}: no felt ratings{what}: not an emotion-elicitation stimulus session "
                      "(e.g. the implicit-tagging experiment).")
        return
    subject_el = session.find("subject")
    subject = subject_el.get("id") if subject_el is not None else None
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
    span_s = round(crop[1] - crop[0], 6)
    _check_cut_length(session, span_s, bdf, draft)
    sid = f"{int(subject):02d}" if subject.isdigit() else re.sub(r"\W+", "", subject)
    rid = f"mahnob-s{sid}-{folder.name}"
    bdf_stream = {"path": draft.rel(bdf), "format": "bdf", "sfreq": status.sfreq}
    modalities = {"eeg": {**bdf_stream, "channels": list(L.MAHNOB_EEG_CHANNELS), "options": {"crop_s": list(crop)}},
                  "ecg": {**bdf_stream, "channels": list(L.MAHNOB_ECG_CHANNELS), "options": {"crop_s": list(crop)}}}
    video, listed = _face_video(session, folder)
    if video is None and listed:
        draft.skip(f"{draft.rel(folder)}: no '{L.MAHNOB_FACE_VIDEO_GLOB}' face video (session.xml lists "
                   f"{[p.name for p in listed]}); '{rid}' kept without video.")
    elif video is not None and (stream := _media_stream(video, "video", span_s, rid, draft)):
        modalities["video"] = stream
    for audio in _tracks(session, folder, "Audio")[:1]:
        if not audio.exists():
            draft.skip(f"{draft.rel(audio.parent)}/{audio.name}: listed in session.xml but missing; "
                       f"'{rid}' kept without audio.")
        elif stream := _media_stream(audio, "audio", span_s, rid, draft):
            modalities["audio"] = stream
    media = Path(session.get("mediaFile", "")).stem
    draft.add({"id": rid, "subject": f"mahnob-s{sid}", "session": folder.name,
               "trial": f"m{media}" if media else folder.name,
               "stimulus": f"m{media}" if media else None, "labels": labels, "modalities": modalities})


def build(root: Path, draft: ManifestDraft) -> None:
    """Fill ``draft`` from a MAHNOB-HCI download."""
    for folder in _session_dirs(root):
        _add_session(folder, draft)
    draft.note("recording clock 0 = first non-zero Status sample = the face video's first frame "
               "(bioidiap/bob.db.hci_tagging); video/audio start there (offset 0) and are cut to the Status span.")
    draft.note(f"ECG lead: {L.MAHNOB_ECG_CHANNELS[0]} first (left abdomen, the reference's cleanest lead).")
