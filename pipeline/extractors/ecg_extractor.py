"""The "ecg" extractor: one ECG lead -> heartbeat-centred windows with R-peak times, RR, HR, quality.

Reads the stream through ``pipeline.signal_readers`` (EDF/BDF/FIF/WFDB/npy and the dataset readers), picks
one lead, and calls ``pipeline.ecg.rpeaks.extract_beats``. A signal without usable heartbeats (flat line,
noise, saturation, NaNs, too short, under 100 Hz) is not a failure of the run: it gives an empty
beat set whose ``attrs["reason"]`` says why. A file that cannot be read or lacks the requested
channel raises ``ExtractionError`` (the runner logs it and goes on).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from pipeline.ecg.rpeaks import PEAK_METHODS, BeatSet, extract_beats
from pipeline.errors import ConfigError, ExtractionError
from pipeline.extractors.base import BaseExtractor, FeatureArrays, register_extractor
from pipeline.manifest import Recording, Stream
from pipeline.signal_readers import pick_channels, read_raw

_log = logging.getLogger(__name__)

ECG_NAME_HINTS = ("ecg", "ekg")


@dataclass(frozen=True)
class ECGConfig:
    """Settings of the ECG beat extractor (all of them enter the cache fingerprint).

    ``channel``: lead name or 0-based index (digits mean an index), used when the manifest stream
    lists no channels; None picks the first channel of type ``ecg``, else the first whose name
    contains ECG/EKG, else the first channel. ``method``: NeuroKit2 ``ecg_peaks`` method. ``pre_s``/``post_s``:
    window around each R peak (seconds); ``length``: samples per window after resampling.
    ``min_hr_bpm``/``max_hr_bpm``: plausible heart rates (shortest RR, HRV interval filter).
    ``min_median_quality``: below this median beat-template correlation the lead is noise.
    """

    channel: str | int | None = None
    method: str = "pantompkins1985"
    pre_s: float = 0.25
    post_s: float = 0.45
    length: int = 128
    min_hr_bpm: float = 25.0
    max_hr_bpm: float = 300.0
    min_median_quality: float = 0.5

    def __post_init__(self) -> None:
        if self.method not in PEAK_METHODS:
            raise ConfigError(f"ecg.method: unknown '{self.method}'. Use one of {', '.join(PEAK_METHODS)}.")
        if not (0 <= self.pre_s < 2 and 0 < self.post_s < 2 and self.pre_s + self.post_s > 0.1):
            raise ConfigError(f"ecg.pre_s/post_s: got {self.pre_s}/{self.post_s}. Use 0 <= pre_s < 2, "
                              "0 < post_s < 2 seconds, spanning at least 0.1 s (default 0.25/0.45).")
        if not 8 <= self.length <= 4096:
            raise ConfigError(f"ecg.length: {self.length} samples per beat. Use 8..4096 (default 128).")
        if not 10 <= self.min_hr_bpm < self.max_hr_bpm <= 400:
            raise ConfigError(f"ecg.min_hr_bpm/max_hr_bpm: got {self.min_hr_bpm}/{self.max_hr_bpm}. "
                              "Use 10 <= min < max <= 400 beats per minute (default 25/300).")
        if not -1 <= self.min_median_quality < 1:
            raise ConfigError(f"ecg.min_median_quality: {self.min_median_quality}. Use a correlation in [-1, 1).")
        if isinstance(self.channel, str) and self.channel.strip().isdigit():  # "--set channel=1" arrives as text
            object.__setattr__(self, "channel", int(self.channel))
        if isinstance(self.channel, bool) or not isinstance(self.channel, (str, int, type(None))):
            raise ConfigError(f"ecg.channel: {self.channel!r}. Give a channel name, a 0-based index or null.")


def choose_lead(raw: Any, stream: Stream, channel: str | int | None) -> str:
    """Name of the lead to use: manifest channels first, then ``channel``, then ECG-typed, ECG-named
    or the first channel (EDF files often type every channel as EEG, hence the name rule)."""
    if stream.channels:
        return pick_channels(raw, stream, ("ecg",))[0]
    names = list(raw.ch_names)
    if channel is not None:
        probe = Stream(name=stream.name, kind=stream.kind, path=stream.path, format=stream.format,
                       channels=(channel,))
        return pick_channels(raw, probe, ("ecg",))[0]
    types = raw.get_channel_types()
    for name, kind in zip(names, types):
        if kind == "ecg":
            return name
    for name in names:
        if any(h in name.lower() for h in ECG_NAME_HINTS):
            return name
    return names[0]


@register_extractor
class ECGBeats(BaseExtractor):
    """R peaks (NeuroKit2 + timing refinement) and fixed-length heartbeat windows of one lead."""

    name: ClassVar[str] = "ecg"
    modality: ClassVar[str] = "ecg"
    version: ClassVar[str] = "2"  # 2: RMSSD only over truly successive NN intervals (issue 14)
    config_type: ClassVar[type] = ECGConfig
    libraries: ClassVar[tuple[str, ...]] = ("numpy", "scipy", "neurokit2", "mne", "wfdb")

    def describe(self) -> dict[str, Any]:
        c = self.config
        return {"feature_names": ["beats", "rr_s", "hr_bpm", "quality"], "beat_length": c.length,
                "beat_window_s": [-c.pre_s, c.post_s], "beat_units": "mV (0.5-40 Hz zero-phase band-pass)",
                "times": "R-peak times on the recording clock (s)"}

    def extract(self, recording: Recording, stream: Stream) -> FeatureArrays:
        raw = read_raw(stream)
        if len(raw.ch_names) == 0:
            raise ExtractionError(f"{stream.path}: the file has no channels. Check the file.")
        lead = choose_lead(raw, stream, self.config.channel)
        fs = float(raw.info["sfreq"])
        signal = raw.get_data(picks=[lead])[0] * 1e3  # MNE holds volts (every reader here); beats in mV
        c = self.config
        beats = extract_beats(signal, fs, c.method, pre_s=c.pre_s, post_s=c.post_s, length=c.length,
                              min_hr_bpm=c.min_hr_bpm, max_hr_bpm=c.max_hr_bpm,
                              min_median_quality=c.min_median_quality)
        if beats.reason:
            _log.warning("%s (recording %s, lead %s): no beats: %s", stream.path, recording.id, lead, beats.reason)
        return _to_features(beats, stream, lead, fs, c)


def _finite_or_none(v: float) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def _to_features(beats: BeatSet, stream: Stream, lead: str, fs: float, config: ECGConfig) -> FeatureArrays:
    attrs: dict[str, Any] = {k: _finite_or_none(v) for k, v in beats.summary.items()}
    attrs.update({"sfreq": fs, "channel": lead, "method": config.method, "n_beats": int(beats.rpeaks.size)})
    if beats.reason:
        attrs["reason"] = beats.reason
    return FeatureArrays(
        times_s=(beats.times_s + stream.offset_s).astype(np.float64),
        arrays={"beats": beats.windows, "rr_s": beats.rr_s.astype(np.float32),
                "hr_bpm": beats.hr_bpm.astype(np.float32), "quality": beats.quality.astype(np.float32)},
        attrs=attrs,
        dims={"beats": ("time", "beat_sample"), "rr_s": ("time",), "hr_bpm": ("time",), "quality": ("time",)},
        units={"beats": "mV", "rr_s": "s", "hr_bpm": "1/min", "quality": "1"},
    )
