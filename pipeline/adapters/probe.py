"""Cheap looks into media files while building a manifest: BDF trigger spans and video lengths.

Only the Status channel of a BDF is decoded (not the 32-48 signal channels), and a video's length
comes from its container header (falling back to counting packets), so building a manifest for a
whole dataset stays quick.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.adapters.layouts import STATUS_TRIGGER_MASK
from pipeline.errors import ExtractionError


@dataclass(frozen=True)
class StatusTrack:
    """Trigger codes of a BDF's Status channel (low 16 bits) and the file's rate and length."""

    codes: np.ndarray
    sfreq: float

    @property
    def duration_s(self) -> float:
        return len(self.codes) / self.sfreq

    def onsets(self, code: int) -> np.ndarray:
        """Times (s) where the trigger word becomes ``code``."""
        hit = self.codes == code
        starts = np.flatnonzero(hit & ~np.concatenate([[False], hit[:-1]]))
        return starts / self.sfreq

    def nonzero_span(self) -> tuple[float, float] | None:
        """From the first to the end of the last non-zero trigger sample, or None without triggers."""
        nz = np.flatnonzero(self.codes != 0)
        if nz.size == 0:
            return None
        return nz[0] / self.sfreq, (nz[-1] + 1) / self.sfreq


def read_status(path: Path) -> StatusTrack:
    """Decode only the Status channel of a Biosemi BDF."""
    import mne

    try:
        raw = mne.io.read_raw_bdf(path, include=["Status"], preload=False, verbose="ERROR")
    except Exception as e:
        raise ExtractionError(f"{path}: not a readable BDF ({type(e).__name__}: {e}). "
                              "The file is corrupt or incomplete; re-download it.") from e
    if "Status" not in raw.ch_names:
        raise ExtractionError(f"{path}: no 'Status' channel, so trials cannot be located. Is this a Biosemi BDF?")
    codes = np.rint(raw.get_data(picks=["Status"])[0]).astype(np.int64) & STATUS_TRIGGER_MASK
    return StatusTrack(codes=codes, sfreq=float(raw.info["sfreq"]))


def media_duration_s(path: Path, kind: str = "video") -> float:
    """Length in seconds of a media file's first ``kind`` ("video" or "audio") stream."""
    import av

    try:
        with av.open(str(path)) as container:
            streams = container.streams.video if kind == "video" else container.streams.audio
            if not streams:
                raise ExtractionError(f"{path}: no {kind} stream in the file.")
            stream = streams[0]
            if stream.duration and stream.time_base:
                return float(stream.duration * stream.time_base)
            if container.duration:
                return container.duration / 1_000_000
            rate = float(getattr(stream, "average_rate", None) or getattr(stream, "guessed_rate", None) or 0)
            frames = stream.frames or sum(1 for p in container.demux(stream) if p.size)
            if rate > 0 and frames:
                return frames / rate
    except ExtractionError:
        raise
    except Exception as e:  # PyAV raises its own FFmpegError family
        raise ExtractionError(f"{path}: not a readable {kind} file ({type(e).__name__}: {e}).") from e
    raise ExtractionError(f"{path}: {kind} length unknown (no duration, rate or frames in the container).")


def video_duration_s(path: Path) -> float:
    """Length of a video's first video stream in seconds."""
    return media_duration_s(path, "video")


def duration_mismatch(video_s: float, expected_s: float) -> bool:
    """True when a video cannot be the trial it is named after (more than 2 s or 10 % off)."""
    return abs(video_s - expected_s) > max(2.0, 0.1 * expected_s)
