"""Decode one audio stream to a clean mono signal at the analysis rate.

Why a module of its own: every bad-input rule of the audio stage (empty or truncated files,
unsupported codecs, too low a sampling rate, a dead stereo channel, DC offset, clipping) lives in
one place, so the feature code can assume a finite, zero-mean, mono float signal.

WAV/FLAC/OGG go through libsndfile (``soundfile``); when it refuses a file (an exotic WAV codec,
for example) PyAV (FFmpeg) gets a second try. Video containers (mp4, avi, mov, mkv, webm) are
demuxed with PyAV. Resampling uses soxr at "HQ" quality (what ``librosa.resample(res_type="soxr_hq")`` runs).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import ExtractionError

_log = logging.getLogger(__name__)

MIN_INPUT_SR = 8000                # below this, the 1-5 kHz bands and F0 harmonics are gone
SOUNDFILE_FORMATS = ("wav", "flac", "ogg")
DEAD_CHANNEL_DB = -50.0            # a channel this far below the loudest one is "dead"
CLIP_WARN_FRACTION = 1e-3          # warn when more than 0.1 % of samples sit at the peak
FIX_HINT = "Convert it to PCM WAV or FLAC, e.g. `ffmpeg -i IN -ac 1 -ar 16000 OUT.wav`"


@dataclass(frozen=True)
class DecodedAudio:
    """A mono float64 signal at ``sr`` Hz plus facts about how it was made.

    ``facts`` is JSON-able and goes into the cache entry attributes: input rate and channel
    count, channels dropped as dead, fraction of clipped samples, the removed DC offset.
    """

    y: np.ndarray
    sr: int
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return len(self.y) / self.sr


def _read_soundfile(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    data, sr = sf.read(str(path), dtype="float64", always_2d=True)  # (n, channels)
    return data.T, int(sr)


def _read_pyav(path: Path, track: int = 0) -> tuple[np.ndarray, int]:
    """Decode audio track ``track`` of any FFmpeg-readable file to float (channels, n)."""
    import av

    with av.open(str(path)) as container:
        streams = container.streams.audio
        if len(streams) == 0:
            raise ExtractionError(f"{path}: has no audio track. Remove the audio modality for this "
                                  "recording or point it to a file with sound.")
        if track >= len(streams):
            raise ExtractionError(f"{path}: audio track {track} requested but the file has {len(streams)}. "
                                  "Fix options.audio_track in the manifest.")
        stream = streams[track]
        if stream.codec_context is None or not stream.codec_context.sample_rate:
            raise RuntimeError(f"audio track {track} has no decodable codec")
        chunks: list[np.ndarray] = []
        sr = int(stream.codec_context.sample_rate)
        for frame in container.decode(stream):
            arr = frame.to_ndarray()
            if not frame.format.is_planar:  # packed: (1, n*channels) interleaved
                arr = arr.reshape(-1, len(frame.layout.channels)).T
            chunks.append(_to_float(arr))
            sr = int(frame.sample_rate or sr)
    if not chunks:
        return np.zeros((1, 0)), sr
    return np.concatenate(chunks, axis=1), sr


def _to_float(arr: np.ndarray) -> np.ndarray:
    """Integer PCM to [-1, 1) floats; float input unchanged."""
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.float64) / float(np.iinfo(arr.dtype).max + 1)
    return arr.astype(np.float64)


def read_channels(path: Path, fmt: str, track: int = 0) -> tuple[np.ndarray, int]:
    """Decode a file to float64 ``(channels, n)`` and its rate; ExtractionError when it can't."""
    if not path.exists():
        raise ExtractionError(f"{path}: audio file not found. Fix the path in the manifest.")
    if path.stat().st_size == 0:
        raise ExtractionError(f"{path}: file is empty (0 bytes). Re-export or re-copy the recording.")
    errors: list[str] = []
    if fmt in SOUNDFILE_FORMATS:
        try:
            return _read_soundfile(path)
        except Exception as e:  # libsndfile raises its own error types; any failure -> try FFmpeg
            errors.append(f"soundfile: {e}")
    try:
        return _read_pyav(path, track)
    except ExtractionError:
        raise
    except Exception as e:  # av.error.* (invalid data, unknown codec, truncated stream)
        errors.append(f"PyAV: {e}")
    raise ExtractionError(f"{path}: cannot decode audio ({'; '.join(errors)}). {FIX_HINT}.")


def mix_to_mono(channels: np.ndarray) -> tuple[np.ndarray, list[int], list[float]]:
    """Remove each channel's DC offset, drop dead channels, average the live ones.

    A channel is dead when its RMS is more than 50 dB below the loudest channel (an unplugged
    microphone on one side of a stereo recorder); averaging it in would only halve the level.
    Returns the mono signal, the indices of the dropped channels and the removed DC offsets.
    """
    dc = channels.mean(axis=1, keepdims=True) if channels.shape[1] else np.zeros((channels.shape[0], 1))
    centred = channels - dc
    rms = np.sqrt(np.mean(centred ** 2, axis=1)) if channels.shape[1] else np.zeros(channels.shape[0])
    top = float(rms.max()) if rms.size else 0.0
    if top > 0:
        live = rms >= top * 10 ** (DEAD_CHANNEL_DB / 20)
    else:
        live = np.ones_like(rms, dtype=bool)  # all silent: nothing to choose between
    dropped = [int(i) for i in np.flatnonzero(~live)]
    return centred[live].mean(axis=0), dropped, [float(d) for d in dc[:, 0]]


def clipped_fraction(y: np.ndarray) -> float:
    """Fraction of samples at (within 0.1 % of) the signal's absolute peak.

    A clean signal reaches its peak at a handful of samples; a clipped one sits there for
    runs of samples. 0 for an all-zero signal.
    """
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak == 0:
        return 0.0
    return float(np.mean(np.abs(y) >= 0.999 * peak))


def load_audio(path: Path, fmt: str, sr: int, track: int = 0) -> DecodedAudio:
    """Decode, check, mix to mono and resample one audio stream to ``sr`` Hz.

    Raises ExtractionError (one sentence, with a fix) for missing, empty, undecodable or
    too-low-rate input and for a file with no samples. Clipping is logged and recorded in
    ``facts["clipped_fraction"]``, not an error: F0 survives it, jitter/shimmer/HNR get worse.
    """
    channels, in_sr = read_channels(path, fmt, track)
    if channels.shape[1] == 0:
        raise ExtractionError(f"{path}: contains no audio samples. Re-export the recording.")
    if in_sr < MIN_INPUT_SR:
        raise ExtractionError(f"{path}: sampling rate {in_sr} Hz is below {MIN_INPUT_SR} Hz, too low for "
                              "F0 harmonics and the 1-5 kHz spectral bands. Use the original recording.")
    if not np.all(np.isfinite(channels)):
        raise ExtractionError(f"{path}: contains NaN or infinite samples. Re-export the recording.")
    mono, dropped, dc = mix_to_mono(channels)
    if dropped:
        _log.warning("%s: channel(s) %s are silent (< %.0f dB of the loudest); using the live channel(s) only",
                     path, dropped, DEAD_CHANNEL_DB)
    clip = clipped_fraction(mono)
    if clip > CLIP_WARN_FRACTION:
        _log.warning("%s: %.2f %% of samples are clipped; jitter, shimmer and HNR will be unreliable", path, 100 * clip)
    if in_sr != sr:
        import soxr  # what librosa.resample(res_type="soxr_hq") calls, without librosa's import cost

        mono = soxr.resample(mono, in_sr, sr, quality="HQ")
    facts = {"input_sr": in_sr, "input_channels": int(channels.shape[0]), "dead_channels": dropped,
             "dc_offset": dc, "clipped_fraction": clip}
    return DecodedAudio(y=np.ascontiguousarray(mono, dtype=np.float64), sr=sr, facts=facts)


def crop_audio(audio: DecodedAudio, crop_s: Any, path: Path) -> DecodedAudio:
    """Keep ``[start_s, end_s)`` of the file (the manifest's ``options.crop_s``), so that file time
    ``start_s`` becomes the stream's time 0; dataset adapters use it where a camera or microphone
    starts before the trial (MAHNOB-HCI)."""
    if crop_s is None:
        return audio
    try:
        t0, t1 = float(crop_s[0]), float(crop_s[1])
    except (TypeError, ValueError, IndexError):
        raise ExtractionError(f"{path}: options.crop_s must be [start_s, end_s], got {crop_s!r}.") from None
    if not 0 <= t0 < t1 or t0 >= audio.duration_s:
        raise ExtractionError(f"{path}: options.crop_s [{t0}, {t1}] is outside the file's 0-{audio.duration_s:.2f} s. "
                              "Fix the trial span in the manifest.")
    y = audio.y[int(round(t0 * audio.sr)):int(round(min(t1, audio.duration_s) * audio.sr))]
    return DecodedAudio(y=y, sr=audio.sr, facts={**audio.facts, "crop_s": [t0, t1]})
