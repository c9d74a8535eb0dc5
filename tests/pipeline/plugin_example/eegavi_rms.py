"""eegavi-rms: an example extractor plugin, the RMS level of an audio stream per frame."""

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from pipeline.audio.loading import load_audio
from pipeline.extractors.base import BaseExtractor, FeatureArrays


@dataclass(frozen=True)
class RmsConfig:
    """frame_s: frame length in seconds; sr: analysis rate in Hz. Both enter the cache fingerprint."""

    frame_s: float = 0.5
    sr: int = 16000


class RmsExtractor(BaseExtractor):
    """RMS level (dBFS) per frame: ``frames`` (F, 1) with [start, end) times on the recording clock."""

    name: ClassVar[str] = "rms"
    modality: ClassVar[str] = "audio"
    version: ClassVar[str] = "1"
    config_type: ClassVar[type] = RmsConfig
    libraries: ClassVar[tuple[str, ...]] = ("numpy", "eegavi-rms")

    def extract(self, recording, stream):
        y = load_audio(stream.path, stream.format, self.config.sr).y
        n = int(self.config.frame_s * self.config.sr)
        frames = y[: len(y) // n * n].reshape(-1, n)
        rms_db = 20 * np.log10(np.sqrt((frames**2).mean(axis=1)) + 1e-12)
        starts = stream.offset_s + np.arange(len(frames)) * self.config.frame_s
        times = np.stack([starts, starts + self.config.frame_s], axis=1)
        return FeatureArrays(times, {"frames": rms_db[:, None].astype(np.float32)}, {"sr": self.config.sr})
