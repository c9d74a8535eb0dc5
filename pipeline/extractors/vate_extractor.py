"""The VATE teacher: a derived extractor from cached ViViT logits (and HuBERT means) to VATE's space.

It reads no raw file. Its inputs are the current ``vivit_logits`` video group (required) and, when
present, the current ``hubert`` audio group (see ``pipeline.derived``); it writes group
``teacher/vate-<fp>`` with one entry per video stream: ``vate_video`` (S, 100) and ``vate_audio``
(S, 100) unit-norm embeddings at the video segments' times, and ``audio_valid`` (S,) telling which
segments had HuBERT frames (the others' ``vate_audio`` rows are zero and must be masked).
``cli extract teacher --teacher vate --checkpoint PATH``; stage two reads it with ``--teacher vate:video``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from pipeline.cache import FeatureCache
from pipeline.derived import UpstreamSpec
from pipeline.errors import ConfigError, ExtractionError
from pipeline.extractors.base import BaseExtractor, FeatureArrays, register_extractor
from pipeline.fingerprint import hash_file
from pipeline.manifest import Recording, Stream
from pipeline.modalities import TEACHER_MODALITY

VIDEO_COMMAND = "cli extract video --head logits --weights google/vivit-b-16x2-kinetics400"
AUDIO_COMMAND = "cli extract audio --encoder hubert --weights facebook/hubert-base-ls960"


@dataclass(frozen=True)
class VateConfig:
    """Options of the VATE teacher.

    checkpoint: path of VATE's ``best_model_contrastive.pt``. Not fingerprinted as a path: its
                sha256 is the weights identity, so a copied checkpoint keeps its cache.
    audio:      also embed the current ``hubert`` group where the recording has one.
    """

    checkpoint: str | None = None
    audio: bool = True

    runtime_fields: ClassVar[tuple[str, ...]] = ("checkpoint",)


def _overlap_mean(seg: np.ndarray, src_t: np.ndarray, src: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per target interval (S, 2): the overlap-weighted mean of source rows (M, D) whose intervals
    (M, 2) overlap it, and whether any did. Equal segmentations reduce to a copy."""
    overlap = np.clip(np.minimum(seg[:, None, 1], src_t[None, :, 1]) - np.maximum(seg[:, None, 0], src_t[None, :, 0]),
                      0.0, None)                                               # (S, M) seconds
    total = overlap.sum(1)
    valid = total > 0
    mean = overlap @ src.astype(np.float64) / np.where(valid, total, 1.0)[:, None]
    return mean, valid


@register_extractor
class VateExtractor(BaseExtractor):
    """VATE heads on cached upstream features -> ``vate_video`` / ``vate_audio`` (S, 100) float32."""

    name: ClassVar[str] = "vate"
    modality: ClassVar[str] = TEACHER_MODALITY
    version: ClassVar[str] = "1"
    config_type: ClassVar[type] = VateConfig
    libraries: ClassVar[tuple[str, ...]] = ("numpy", "torch")

    config: VateConfig

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self._heads: dict | None = None
        self._lock = threading.Lock()

    @property
    def upstream(self) -> tuple[UpstreamSpec, ...]:
        """The cache groups read: ViViT logits (required), HuBERT (where present)."""
        video = UpstreamSpec("video", "video", "vivit_logits", True, VIDEO_COMMAND)
        audio = UpstreamSpec("audio", "audio", "hubert", False, AUDIO_COMMAND)
        return (video, audio) if self.config.audio else (video,)

    def _checkpoint(self) -> Path:
        if not self.config.checkpoint:
            raise ConfigError("extractor 'vate' needs its checkpoint: pass --checkpoint PATH to VATE's "
                              "best_model_contrastive.pt.")
        return Path(self.config.checkpoint).expanduser()

    def weights_identity(self) -> dict[str, Any]:
        """sha256 of the checkpoint file (not its path)."""
        from pipeline.teachers.vate import load_state

        path = self._checkpoint()
        if not path.is_file():
            load_state(path)  # raises the WeightsError that says where to get it
        return {"checkpoint_sha256": hash_file(path), "random_init": False}

    def check_ready(self) -> None:
        """Fail before any work: the checkpoint loads safely and has both heads."""
        self._load()

    def describe(self) -> dict[str, Any]:
        """Heads and widths: cache group attributes."""
        from pipeline.teachers.vate import HEADS, OUT_DIM, SOURCE

        return {"teacher": "vate", "source": SOURCE, "dim": OUT_DIM,
                "inputs": {part: width for part, (_, width) in HEADS.items()}}

    def _load(self) -> dict:
        from pipeline.teachers.vate import load_heads

        with self._lock:
            if self._heads is None:
                self._heads = load_heads(self._checkpoint())
            return self._heads

    def pairing(self, rec: Recording) -> list[tuple[Stream, dict[str, str | None]]]:
        """One entry per video stream, fed by that stream's logits and the recording's first audio stream."""
        audio = next(iter(sorted(s.name for s in rec.streams_of("audio"))), None)
        return [(s, {"video": s.name, "audio": audio}) for s in rec.streams_of("video")]

    def extract(self, recording: Recording, stream: Stream) -> FeatureArrays:
        raise ExtractionError(f"{recording.id}/{stream.name}: 'vate' reads cache groups, not files; "
                              "run it with `cli extract teacher --teacher vate --checkpoint PATH`.")

    def extract_derived(self, recording: Recording, stream: Stream, cache: FeatureCache,
                        sources: dict[str, tuple[str, str] | None]) -> FeatureArrays:
        """Embed one video stream's cached logits (and the overlapping HuBERT means) with VATE's heads."""
        from pipeline.teachers.vate import embed

        heads = self._load()
        group, name = sources["video"]
        video = cache.read_entry(group, recording.id, name)
        logits, seg = video.arrays["logits"], np.asarray(video.times_s, np.float64)
        self._check_width(group, logits, "video", VIDEO_COMMAND)
        out = {"vate_video": embed(heads["video"], logits)}
        audio = np.zeros_like(out["vate_video"])
        valid = np.zeros(len(seg), bool)
        if sources.get("audio") is not None:
            a_group, a_name = sources["audio"]
            speech = cache.read_entry(a_group, recording.id, a_name)
            self._check_width(a_group, speech.arrays["frames"], "audio", AUDIO_COMMAND)
            mean, valid = _overlap_mean(seg, np.asarray(speech.times_s, np.float64), speech.arrays["frames"])
            if valid.any():
                audio[valid] = embed(heads["audio"], mean[valid])
        out["vate_audio"] = audio
        out["audio_valid"] = valid
        dims = {"vate_video": ("time", "dim"), "vate_audio": ("time", "dim"), "audio_valid": ("time",)}
        units = {"vate_video": "unit-norm embedding", "vate_audio": "unit-norm embedding", "audio_valid": "bool"}
        return FeatureArrays(times_s=seg, arrays=out, dims=dims, units=units,
                             attrs={"audio_stream": sources["audio"][1] if sources.get("audio") else None})

    @staticmethod
    def _check_width(group: str, arr: np.ndarray, part: str, command: str) -> None:
        from pipeline.teachers.vate import HEADS

        width = HEADS[part][1]
        if arr.ndim != 2 or arr.shape[1] != width:
            raise ExtractionError(f"{group}: rows of width {arr.shape[1:]} but VATE's {part} head takes {width}. "
                                  f"Rebuild the upstream group at full size (`{command}`, or --random-init --size base).")
