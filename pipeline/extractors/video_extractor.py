"""The video extractors "vivit", "clip" and "timesformer": one implementation, one VideoConfig.

Each registered name is an encoder, so cache groups read ``video/vivit-<fp>``, ``video/clip-<fp>``
and ``video/timesformer-<fp>``. The model is loaded lazily, on the first ``extract`` call, and
once per process (``pipeline.video.encoders`` keeps it). ``weights_identity`` and ``describe``
never load weights, so the runner can fingerprint and fail early on missing weights
(WeightsError) before any work.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from pipeline.errors import ConfigError
from pipeline.extractors.base import BaseExtractor, FeatureArrays, register_extractor
from pipeline.manifest import Recording, Stream
from pipeline.video.video_config import ENCODERS, VideoConfig, encoder_spec


class VideoExtractor(BaseExtractor):
    """Frozen video encoder -> ``tokens`` (S, 1 + T, D) float16 with segment intervals (S, 2)."""

    modality: ClassVar[str] = "video"
    version: ClassVar[str] = "1"
    config_type: ClassVar[type] = VideoConfig
    libraries: ClassVar[tuple[str, ...]] = ("numpy", "torch", "transformers", "av")

    config: VideoConfig

    def weights_identity(self) -> dict[str, Any]:
        """Hub id + revision, sha256 of local weight files, or the random-init recipe (no loading)."""
        from pipeline.video.weights import weights_identity

        return weights_identity(self.name, self.config)

    def check_ready(self) -> None:
        """Fail before any work: weights present offline, options fit the model, device usable."""
        from pipeline.video.encoders import read_hf_config, resolve_device, resolve_layout
        from pipeline.video.weights import resolve_weights

        source = resolve_weights(self.name, self.config)
        resolve_layout(self.name, read_hf_config(encoder_spec(self.name), source, self.config), self.config)
        resolve_device(self.config)

    def describe(self) -> dict[str, Any]:
        """Token layout before/after compaction, frames, segment length: cache group attributes."""
        from pipeline.video.encoders import read_hf_config, resolve_layout
        from pipeline.video.weights import resolve_weights

        spec = encoder_spec(self.name)
        source = resolve_weights(self.name, self.config)
        layout = resolve_layout(self.name, read_hf_config(spec, source, self.config), self.config)
        return {
            "encoder": self.name,
            "weights": source.hub_id or (str(source.folder) if source.folder else None),
            "random_init": self.config.random_init,
            "token_layout": _LAYOUT_TEXT[self.name],
            "frames_per_segment": layout.frames,
            "segment_s": self.config.segment_s,
            "tokens_before": layout.tokens_before,
            "tokens_after": layout.tokens_after(self.config.keep_tokens),
            "dim_before": layout.dim,
            "dim_after": self.config.project_dim or layout.dim,
            "dtype": "float16",
        }

    def extract(self, recording: Recording, stream: Stream) -> FeatureArrays:
        """Tokens for one video stream; ExtractionError for a bad file, WeightsError without weights."""
        from pipeline.video.encoders import load_encoder
        from pipeline.video.extract import extract_video

        feats = extract_video(load_encoder(self.name, self.config), self.config, stream)
        # tokens (segment, 1 + T, D): unitless encoder activations, layout in the group's describe()
        return dataclasses.replace(feats, dims={"tokens": ("time", "token", "dim")}, units={"tokens": "1"})


_LAYOUT_TEXT = {
    "vivit": "[CLS, tubelet_1, ..., tubelet_T'] (spatial mean per tubelet)",
    "timesformer": "[CLS, frame_1, ..., frame_T] (spatial mean per frame)",
    "clip": "[mean frame CLS, CLS_1, patch_mean_1, ..., CLS_T, patch_mean_T]",
}


@register_extractor
class VivitExtractor(VideoExtractor):
    """ViViT-B 16x2 (google/vivit-b-16x2-kinetics400): 32 frames, tubelets of 2 frames."""

    name: ClassVar[str] = "vivit"


@register_extractor
class ClipExtractor(VideoExtractor):
    """CLIP ViT-B/32 vision tower (openai/clip-vit-base-patch32) run per frame, 8 frames."""

    name: ClassVar[str] = "clip"


@register_extractor
class TimesformerExtractor(VideoExtractor):
    """TimeSformer-base (facebook/timesformer-base-finetuned-k400): 8 frames, divided attention."""

    name: ClassVar[str] = "timesformer"


def video_extractor(encoder: str) -> type[VideoExtractor]:
    """The extractor class of an encoder name; ConfigError listing the valid encoders otherwise."""
    encoder_spec(encoder)
    cls = {c.name: c for c in (VivitExtractor, ClipExtractor, TimesformerExtractor)}.get(encoder)
    if cls is None:  # pragma: no cover  (ENCODERS and the classes are kept in step)
        raise ConfigError(f"unknown video encoder '{encoder}'. Valid encoders: {', '.join(ENCODERS)}.")
    return cls
