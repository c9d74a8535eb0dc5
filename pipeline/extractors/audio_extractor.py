"""Audio extractors: paralinguistic frame features ("audio") and openSMILE eGeMAPS ("egemaps").

"audio" turns a recording's speech into a compact, time-indexed sequence stage two can attend
to: pitch, voicing, energy, voice quality, spectral shape and speech/pause activity at a fixed
hop (``level="frame"``), or their functionals over fixed segments (``level="segment"``). The
computing lives in ``pipeline.audio``; this module only reads the stream, applies the config and
places the result on the recording clock.

"egemaps" is registered only when the ``opensmile`` package imports: it writes openSMILE's
eGeMAPSv02 low-level descriptors through the same cache contract, for comparison with the
field's standard set.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from pipeline.audio.voice import FRAME_NAMES, VOICED_ONLY, PitchSettings, frame_features
from pipeline.audio.grid import MIN_HOP_SAMPLES
from pipeline.audio.activity import FUNCTIONALS, PAUSE_NAMES, pause_stats, segment_features, segment_intervals
from pipeline.audio.loading import MIN_INPUT_SR, crop_audio, load_audio
from pipeline.errors import ConfigError, ExtractionError
from pipeline.extractors.base import BaseExtractor, FeatureArrays, register_extractor
from pipeline.manifest import Recording, Stream

_log = logging.getLogger(__name__)

@dataclass(frozen=True)
class AudioConfig:
    """Settings of the "audio" extractor (all of them enter the cache fingerprint).

    sr: analysis rate (Hz) every input is resampled to. hop_s: frame hop (s); hop_s * sr must be
    a whole number of samples (the extractor resamples once, to sr; ``frame_features`` itself
    accepts any rate). f0_floor_hz / f0_ceiling_hz, voicing_threshold, octave_cost,
    silence_threshold: Praat pitch tracker settings (see ``pipeline.audio.voice.PitchSettings``).
    window_s: energy/spectral window (s). voice_window_s: window for jitter and shimmer (s).
    vad_range_db: speech is within this many dB of the loud level. min_pause_s: shortest pause.
    level: "frame" (F, K) frames or "segment" (S, 5K + 3) functionals over segment_s segments.
    """

    sr: int = 16000
    hop_s: float = 0.01
    f0_floor_hz: float = 60.0
    f0_ceiling_hz: float = 600.0
    voicing_threshold: float = 0.42
    octave_cost: float = 0.03
    silence_threshold: float = 0.03
    window_s: float = 0.025
    voice_window_s: float = 0.06
    vad_range_db: float = 35.0
    min_pause_s: float = 0.15
    level: str = "frame"
    segment_s: float = 2.0

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not isinstance(self.sr, int) or self.sr < MIN_INPUT_SR:
            problems.append(f"sr={self.sr}: must be an integer >= {MIN_INPUT_SR} Hz")
        elif not 0 < self.hop_s <= 0.1 or abs(self.hop_s * self.sr - round(self.hop_s * self.sr)) > 1e-6:
            problems.append(f"hop_s={self.hop_s}: must be in (0, 0.1] s and a whole number of samples at sr={self.sr}")
        elif self.hop_s * self.sr < MIN_HOP_SAMPLES - 1e-6:
            problems.append(f"hop_s={self.hop_s}: under {MIN_HOP_SAMPLES} samples at sr={self.sr}; use at least 1 ms")
        if not 20 <= self.f0_floor_hz < self.f0_ceiling_hz:
            problems.append(f"f0 range [{self.f0_floor_hz}, {self.f0_ceiling_hz}] Hz: need 20 <= floor < ceiling")
        elif isinstance(self.sr, int) and self.f0_ceiling_hz > self.sr / 2:
            problems.append(f"f0_ceiling_hz={self.f0_ceiling_hz}: above the Nyquist frequency of sr={self.sr}")
        for name in ("voicing_threshold", "silence_threshold"):
            if not 0 < getattr(self, name) < 1:
                problems.append(f"{name}={getattr(self, name)}: must be in (0, 1)")
        for name in ("window_s", "voice_window_s", "vad_range_db", "min_pause_s", "segment_s"):
            if not getattr(self, name) > 0:
                problems.append(f"{name}={getattr(self, name)}: must be > 0")
        if self.octave_cost < 0:
            problems.append(f"octave_cost={self.octave_cost}: must be >= 0")
        if self.level not in ("frame", "segment"):
            problems.append(f"level='{self.level}': must be 'frame' or 'segment'")
        if problems:
            raise ConfigError("audio config: " + "; ".join(problems) + ". Fix these values.")

    @property
    def pitch(self) -> PitchSettings:
        return PitchSettings(floor_hz=self.f0_floor_hz, ceiling_hz=self.f0_ceiling_hz,
                             voicing_threshold=self.voicing_threshold, silence_threshold=self.silence_threshold,
                             octave_cost=self.octave_cost)


def segment_feature_names() -> list[str]:
    """Column names at ``level="segment"``: ``<frame feature>_<functional>`` then pause stats."""
    return [f"{n}_{f}" for n in FRAME_NAMES for f in FUNCTIONALS] + list(PAUSE_NAMES)


@register_extractor
class AudioExtractor(BaseExtractor):
    """Paralinguistic frame features (F0, voicing, energy, jitter, shimmer, HNR, spectral shape,
    speech/pause) of an audio file or a video's audio track; see ``describe()`` for the columns."""

    name: ClassVar[str] = "audio"
    modality: ClassVar[str] = "audio"
    version: ClassVar[str] = "2"  # 2: Praat padding fixed (issue 14); frames at 44.1 kHz moved slightly
    config_type: ClassVar[type] = AudioConfig
    libraries: ClassVar[tuple[str, ...]] = ("numpy", "praat-parselmouth", "soxr", "soundfile", "av")

    def describe(self) -> dict[str, Any]:
        cfg = self.config
        names = list(FRAME_NAMES) if cfg.level == "frame" else segment_feature_names()
        facts: dict[str, Any] = {"feature_names": names, "level": cfg.level, "hop_s": cfg.hop_s, "sr": cfg.sr,
                                 "voiced_only": sorted(VOICED_ONLY)}
        if cfg.level == "segment":
            facts["segment_s"] = cfg.segment_s
        return facts

    def extract(self, recording: Recording, stream: Stream) -> FeatureArrays:
        cfg = self.config
        audio = load_audio(stream.path, stream.format, cfg.sr, track=int(stream.options.get("audio_track", 0)))
        audio = crop_audio(audio, stream.options.get("crop_s"), stream.path)
        ff = frame_features(audio.y, cfg.sr, cfg.hop_s, cfg.pitch, cfg.window_s, cfg.voice_window_s,
                            cfg.vad_range_db, cfg.min_pause_s)
        times = ff.times_s + stream.offset_s
        n_pause, mean_pause, vrate = pause_stats(ff.speech, ff.voiced, 0, len(times), cfg.hop_s, cfg.min_pause_s)
        attrs = {**audio.facts, "sr": cfg.sr, "duration_s": audio.duration_s,
                 "voiced_fraction": float(ff.voiced.mean()), "speech_fraction": float(ff.speech.mean()),
                 "pause_count": n_pause, "pause_mean_s": mean_pause, "voiced_segment_rate_hz": vrate}
        if not ff.voiced.any():
            _log.info("%s: no voiced frames (silence or no voice): F0 features are 0, voiced=0", stream.path)
        if cfg.level == "frame":
            return _features(times, ff.values, list(ff.names), attrs)
        intervals = segment_intervals(stream.offset_s, audio.duration_s, cfg.segment_s)
        values, names = segment_features(times, ff.values, list(ff.names), set(VOICED_ONLY), ff.speech, ff.voiced,
                                         intervals, cfg.hop_s, cfg.min_pause_s)
        return _features(intervals, values, names, attrs)


def _features(times: np.ndarray, values: np.ndarray, names: list[str], attrs: dict[str, Any]) -> FeatureArrays:
    """Frames (time, feature) labelled by feature name; units live in the names (``_hz``, ``_db``, ``_s``)."""
    return FeatureArrays(times, {"frames": values.astype(np.float32)}, attrs, dims={"frames": ("time", "feature")},
                         units={"frames": "see feature names"}, coords={"feature": list(names)})


# ---------------------------------------------------------------- optional openSMILE peer


@dataclass(frozen=True)
class EgemapsConfig:
    """openSMILE eGeMAPSv02 low-level descriptors (10 ms hop, openSMILE's own frames) at ``sr``."""

    sr: int = 16000

    def __post_init__(self) -> None:
        if not isinstance(self.sr, int) or self.sr < MIN_INPUT_SR:
            raise ConfigError(f"egemaps config: sr={self.sr}: must be an integer >= {MIN_INPUT_SR} Hz. Fix the value.")


def _opensmile_available() -> bool:
    return importlib.util.find_spec("opensmile") is not None


class EgemapsExtractor(BaseExtractor):
    """openSMILE's eGeMAPSv02 LLDs through the same contract; frame centres on the recording clock."""

    name: ClassVar[str] = "egemaps"
    modality: ClassVar[str] = "audio"
    version: ClassVar[str] = "1"
    config_type: ClassVar[type] = EgemapsConfig
    libraries: ClassVar[tuple[str, ...]] = ("numpy", "opensmile", "soxr", "soundfile", "av")

    def __init__(self, config: Any = None) -> None:
        if not _opensmile_available():
            raise ConfigError("extractor 'egemaps' needs the opensmile package: pip install opensmile")
        super().__init__(config)
        import opensmile

        self._smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                                      feature_level=opensmile.FeatureLevel.LowLevelDescriptors)

    def describe(self) -> dict[str, Any]:
        return {"feature_names": list(self._smile.feature_names), "level": "frame", "sr": self.config.sr}

    def extract(self, recording: Recording, stream: Stream) -> FeatureArrays:
        audio = load_audio(stream.path, stream.format, self.config.sr, track=int(stream.options.get("audio_track", 0)))
        audio = crop_audio(audio, stream.options.get("crop_s"), stream.path)
        try:
            df = self._smile.process_signal(audio.y.astype(np.float32), self.config.sr)
        except Exception as e:  # openSMILE raises generic errors on degenerate input
            raise ExtractionError(f"{stream.path}: openSMILE failed ({e}). Check the file plays.") from e
        start = df.index.get_level_values("start").total_seconds().to_numpy()
        end = df.index.get_level_values("end").total_seconds().to_numpy()
        times = (start + end) / 2 + stream.offset_s
        values = np.nan_to_num(df.to_numpy(dtype=np.float64)).astype(np.float32)
        return _features(times, values, list(self._smile.feature_names), {**audio.facts, "sr": self.config.sr})


if _opensmile_available():
    register_extractor(EgemapsExtractor)
