"""The video extractors "vivit", "clip" and "timesformer": one implementation, one VideoConfig.

Each registered name is an encoder, so cache groups read ``video/vivit-<fp>``, ``video/clip-<fp>``
and ``video/timesformer-<fp>``. The encoders with a Kinetics classifier also register an output
head of class logits, "vivit_logits" and "timesformer_logits" (``--head logits``): a name of its
own, not a config field, because "current" groups are kept per (modality, extractor) and training
reads the token group while derived extractors (VATE) read the logits group of the same videos.
The default groups' fingerprints are therefore unchanged by the head's existence. The model is loaded lazily, on the first ``extract`` call, and
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
from pipeline.video.video_config import ENCODERS, HEADS, VideoConfig, encoder_spec, model_class_name


class VideoExtractor(BaseExtractor):
    """Frozen video encoder -> ``tokens`` (S, 1 + T, D) float16 (or ``logits`` (S, C) float32 for
    head "logits") with segment intervals (S, 2)."""

    encoder: ClassVar[str] = ""
    head: ClassVar[str] = "tokens"
    modality: ClassVar[str] = "video"
    version: ClassVar[str] = "1"
    config_type: ClassVar[type] = VideoConfig
    libraries: ClassVar[tuple[str, ...]] = ("numpy", "torch", "transformers", "av")

    config: VideoConfig

    def __init__(self, config: VideoConfig | None = None) -> None:
        super().__init__(config)
        if self.config.face_crop:  # the detector's library changes the crops; without cropping it is not used
            from pipeline.video.faces import DETECTOR_LIBRARY

            self.libraries = (*type(self).libraries, DETECTOR_LIBRARY)

    def weights_identity(self) -> dict[str, Any]:
        """Hub id + revision, sha256 of local weight files, or the random-init recipe (no loading).

        Head "logits" adds ``head``: its numbers come from the classifier's weights too, and the head
        must enter the fingerprint without changing the token groups' (default) identity.
        """
        from pipeline.video.weights import weights_identity

        identity = weights_identity(self.encoder, self.config)
        return identity if self.head == "tokens" else {**identity, "head": self.head}

    def check_ready(self) -> None:
        """Fail before any work: weights present offline, options fit the model, device usable."""
        from pipeline.video.encoders import read_hf_config, resolve_device, resolve_layout
        from pipeline.video.weights import resolve_weights

        source = resolve_weights(self.encoder, self.config)
        hf_config = read_hf_config(encoder_spec(self.encoder), source, self.config, self.head)
        resolve_layout(self.encoder, hf_config, self.config, self.head)
        resolve_device(self.config)

    def describe(self) -> dict[str, Any]:
        """Token layout before/after compaction, frames, segment length: cache group attributes."""
        from pipeline.video.encoders import read_hf_config, resolve_layout
        from pipeline.video.weights import resolve_weights

        spec = encoder_spec(self.encoder)
        source = resolve_weights(self.encoder, self.config)
        hf_config = read_hf_config(spec, source, self.config, self.head)
        layout = resolve_layout(self.encoder, hf_config, self.config, self.head)
        facts = {"encoder": self.encoder, "head": self.head,
                 "weights": source.hub_id or (str(source.folder) if source.folder else None),
                 "random_init": self.config.random_init, "frames_per_segment": layout.frames,
                 "segment_s": self.config.segment_s}
        if self.head == "logits":
            return {**facts, "model_class": model_class_name(spec, self.head), "num_labels": hf_config.num_labels,
                    "labels": [str(hf_config.id2label[i]) for i in range(hf_config.num_labels)], "dtype": "float32"}
        return {
            **facts,
            "token_layout": _LAYOUT_TEXT[self.encoder],
            "tokens_before": layout.tokens_before,
            "tokens_after": layout.tokens_after(self.config.keep_tokens),
            "dim_before": layout.dim,
            "dim_after": self.config.project_dim or layout.dim,
            "dtype": "float16",
        }

    def extract(self, recording: Recording, stream: Stream) -> FeatureArrays:
        """Tokens (or logits) for one video stream; ExtractionError for a bad file, WeightsError without weights."""
        from pipeline.video.encoders import load_encoder
        from pipeline.video.extract import extract_video

        feats = extract_video(load_encoder(self.encoder, self.config, self.head), self.config, stream)
        # tokens (segment, 1 + T, D): unitless encoder activations, layout in the group's describe();
        # logits (segment, class): the classifier's pre-softmax scores, class names in describe()
        dims = {"tokens": ("time", "token", "dim")} if self.head == "tokens" else {"logits": ("time", "class")}
        units = {key: "1" for key in dims}
        if not self.config.face_crop:
            return dataclasses.replace(feats, dims=dims, units=units)
        from pipeline.video.face_crop import FACE_COORDS, FACE_DIMS, FACE_UNITS

        # the face track: per segment and sampled frame, its time, crop box (source pixels) and flag
        return dataclasses.replace(feats, dims={**dims, **FACE_DIMS}, units={**units, **FACE_UNITS},
                                   coords=FACE_COORDS)


_LAYOUT_TEXT = {
    "vivit": "[CLS, tubelet_1, ..., tubelet_T'] (spatial mean per tubelet)",
    "timesformer": "[CLS, frame_1, ..., frame_T] (spatial mean per frame)",
    "clip": "[mean frame CLS, CLS_1, patch_mean_1, ..., CLS_T, patch_mean_T]",
}


@register_extractor
class VivitExtractor(VideoExtractor):
    """ViViT-B 16x2 (google/vivit-b-16x2-kinetics400): 32 frames, tubelets of 2 frames."""

    name: ClassVar[str] = "vivit"
    encoder: ClassVar[str] = "vivit"


@register_extractor
class ClipExtractor(VideoExtractor):
    """CLIP ViT-B/32 vision tower (openai/clip-vit-base-patch32) run per frame, 8 frames."""

    name: ClassVar[str] = "clip"
    encoder: ClassVar[str] = "clip"


@register_extractor
class TimesformerExtractor(VideoExtractor):
    """TimeSformer-base (facebook/timesformer-base-finetuned-k400): 8 frames, divided attention."""

    name: ClassVar[str] = "timesformer"
    encoder: ClassVar[str] = "timesformer"


@register_extractor
class VivitLogitsExtractor(VideoExtractor):
    """ViViT's Kinetics-400 logits (VivitForVideoClassification): VATE's video input, 32 frames."""

    name: ClassVar[str] = "vivit_logits"
    encoder: ClassVar[str] = "vivit"
    head: ClassVar[str] = "logits"


@register_extractor
class TimesformerLogitsExtractor(VideoExtractor):
    """TimeSformer's Kinetics-400 logits (TimesformerForVideoClassification), 8 frames."""

    name: ClassVar[str] = "timesformer_logits"
    encoder: ClassVar[str] = "timesformer"
    head: ClassVar[str] = "logits"


_CLASSES = (VivitExtractor, ClipExtractor, TimesformerExtractor, VivitLogitsExtractor, TimesformerLogitsExtractor)


def video_extractor(encoder: str, head: str = "tokens") -> type[VideoExtractor]:
    """The extractor class of an encoder and output head; ConfigError naming the valid choices otherwise."""
    model_class_name(encoder_spec(encoder), head)  # unknown encoder or head, or no classifier: ConfigError
    cls = {(c.encoder, c.head): c for c in _CLASSES}.get((encoder, head))
    if cls is None:  # pragma: no cover  (ENCODERS, HEADS and the classes are kept in step)
        raise ConfigError(f"no video extractor for encoder '{encoder}' with head '{head}'. Valid encoders: "
                          f"{', '.join(ENCODERS)}; heads: {', '.join(HEADS)}.")
    return cls
