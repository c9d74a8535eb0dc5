"""The video stage's one frozen config and the table of supported encoders.

Every field is a plain JSON value, because ``dataclasses.asdict(config)`` goes into the cache
fingerprint: changing any of them (weights, frames, segment length, compaction) makes a new cache
group. ``runtime_fields`` names the fields that only change speed (a fingerprint may ignore them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from pipeline.errors import ConfigError
from pipeline.video.faces import DETECTORS
from pipeline.weights import weights_choice_problems


@dataclass(frozen=True)
class EncoderSpec:
    """What the stage needs to know about one encoder family, none of it read from the hub.

    ``processor_defaults`` mirror the hub model's ``preprocessor_config.json``; they are used only
    when a weights folder has none (random init, hand-made folders). ``tiny`` overrides the
    architecture config for ``--random-init --size tiny``: the real layout, a few layers, small width.
    """

    name: str
    hub_id: str
    model_class: str             # transformers class name, imported lazily
    config_class: str
    default_frames: int | None   # None: the model config's num_frames
    processor_defaults: dict[str, Any] = field(hash=False, compare=False)
    tiny: dict[str, Any] = field(hash=False, compare=False)
    classifier_class: str | None = None  # the ...ForVideoClassification class of head "logits"; None: no head


_TINY_WIDTH = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128,
               "image_size": 112}

ENCODERS: dict[str, EncoderSpec] = {
    "vivit": EncoderSpec(
        name="vivit", hub_id="google/vivit-b-16x2-kinetics400", model_class="VivitModel",
        config_class="VivitConfig", default_frames=None, classifier_class="VivitForVideoClassification",
        processor_defaults={"do_resize": True, "size": {"shortest_edge": 256}, "do_center_crop": True,
                            "crop_size": {"height": 224, "width": 224}, "do_rescale": True,
                            "rescale_factor": 1 / 127.5, "offset": True, "do_normalize": True,
                            "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]},
        tiny=dict(_TINY_WIDTH)),
    "timesformer": EncoderSpec(
        name="timesformer", hub_id="facebook/timesformer-base-finetuned-k400", model_class="TimesformerModel",
        config_class="TimesformerConfig", default_frames=None, classifier_class="TimesformerForVideoClassification",
        processor_defaults={"do_resize": True, "size": {"shortest_edge": 224}, "do_center_crop": True,
                            "crop_size": {"height": 224, "width": 224}, "do_rescale": True,
                            "rescale_factor": 1 / 255, "do_normalize": True,
                            "image_mean": [0.45, 0.45, 0.45], "image_std": [0.225, 0.225, 0.225]},
        tiny=dict(_TINY_WIDTH)),
    "clip": EncoderSpec(
        name="clip", hub_id="openai/clip-vit-base-patch32", model_class="CLIPVisionModel",
        config_class="CLIPVisionConfig", default_frames=8,
        processor_defaults={"do_resize": True, "size": {"shortest_edge": 224}, "do_center_crop": True,
                            "crop_size": {"height": 224, "width": 224}, "do_rescale": True,
                            "rescale_factor": 1 / 255, "do_normalize": True,
                            "image_mean": [0.48145466, 0.4578275, 0.40821073],
                            "image_std": [0.26862954, 0.26130258, 0.27577711]},
        tiny={**_TINY_WIDTH, "patch_size": 16}),
}

SIZES = ("tiny", "base")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
HEADS = ("tokens", "logits")
# Random-init classification heads get the hub checkpoints' Kinetics-400 width, so random logits have
# the shape that downstream consumers (VATE's video head takes 400 inputs) expect.
RANDOM_INIT_LABELS = 400


def encoder_spec(name: str) -> EncoderSpec:
    """The spec of a known encoder; an unknown name is a ConfigError listing the valid ones."""
    try:
        return ENCODERS[name]
    except KeyError:
        raise ConfigError(f"unknown video encoder '{name}'. Valid encoders: {', '.join(ENCODERS)}.") from None


def model_class_name(spec: EncoderSpec, head: str) -> str:
    """The transformers class that computes ``head`` ("tokens": the bare model; "logits": its classifier)."""
    if head not in HEADS:
        raise ConfigError(f"unknown video head '{head}'. Valid heads: {', '.join(HEADS)}.")
    if head == "tokens":
        return spec.model_class
    if spec.classifier_class is None:
        with_head = ", ".join(n for n, s in ENCODERS.items() if s.classifier_class)
        raise ConfigError(f"video encoder '{spec.name}' has no video classification head, so --head logits "
                          f"cannot apply. Use --head tokens, or an encoder with one: {with_head}.")
    return spec.classifier_class


@dataclass(frozen=True)
class VideoConfig:
    """Options of the video extractors (vivit, clip, timesformer); the encoder is the extractor name.

    weights:      hub id or local folder; None = the encoder's default hub id. Offline only.
    random_init:  build the architecture with seeded random weights instead of loading any.
    size:         with random_init: "tiny" (default; 2 layers, width 64, 112 px) or "base" (real size).
    segment_s:    segment length on the recording clock, seconds; segments are [k*segment_s, (k+1)*segment_s).
    min_coverage: a segment only partly covered by the video is kept (with its true, shorter
                  interval) when the video covers at least this fraction of it.
    frames:       frames sampled per segment; None = model config (ViViT 32, TimeSformer 8), CLIP 8.
    keep_tokens:  keep K time tokens (frames/tubelets), evenly spaced; None = all.
    project_dim:  fixed orthogonal projection of every token to this width; None = keep D.
    seed:         seed of the random-init weights and of the projection matrix.
    device:       "auto" (cuda if available), "cpu", "cuda", "cuda:N". Not fingerprinted.
    precision:    "auto" (fp16 autocast on CUDA, fp32 on CPU; resolved at construction, and the
                  resolved value is fingerprinted), "fp32", "fp16" (CUDA only), "bf16" (CUDA, or a
                  CPU with AMX / AVX512-BF16, where it is ~2.6x faster than fp32 for ViViT-B).
    batch_size:   segments per forward pass.
    prefetch:     decoded batches kept ready ahead of the model (bounds memory).
    face_crop:    detect the face in each sampled frame and give the encoder a square crop around it
                  (from the full-resolution frame) instead of the frame's centre square.
    face_margin:  crop margin on every side of the face box, as a fraction of the box side.
    face_smooth:  detections in the centred moving median of box centre and side (1 = none).
    face_every:   run the detector on every k-th sampled frame; boxes between are interpolated.
    face_hold_s:  a frame without a face keeps the last good box this long, then gets the full frame.
    face_detector: "haar_alt" (default), "haar_alt2" or "haar": OpenCV's bundled frontal-face cascades.
    The face_* options apply only with face_crop, and enter the fingerprint only then (see
    ``unused_fields``), so the groups cached before face cropping existed keep their fingerprints.
    """

    weights: str | None = None
    random_init: bool = False
    size: str | None = None
    segment_s: float = 2.0
    min_coverage: float = 0.5
    frames: int | None = None
    keep_tokens: int | None = None
    project_dim: int | None = None
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    batch_size: int = 4
    prefetch: int = 2
    face_crop: bool = False
    face_margin: float = 0.25
    face_smooth: int = 5
    face_every: int = 2
    face_hold_s: float = 1.0
    face_detector: str = "haar_alt"

    # Speed-only fields, left out of the fingerprint. ``device`` is one of them because what changes
    # the numbers is the precision, and "auto" precision is resolved below: a cache made on CUDA in
    # fp16 and one made on CPU in fp32 are different groups, cuda:0 and cuda:1 are the same one, and
    # a cache built on a GPU machine still resolves as current on a CPU-only training machine.
    runtime_fields: ClassVar[tuple[str, ...]] = ("batch_size", "prefetch", "device")

    def __post_init__(self) -> None:
        problems = self._problems()
        if problems:
            raise ConfigError("video config: " + "; ".join(problems) + ".")
        if self.random_init and self.size is None:
            object.__setattr__(self, "size", "tiny")  # resolved here so the fingerprint sees "tiny"
        if self.precision == "auto":  # resolved here so the fingerprint sees the numbers' precision
            object.__setattr__(self, "precision", "fp16" if self.uses_cuda else "fp32")

    def unused_fields(self) -> tuple[str, ...]:
        """Fields that cannot change the numbers now (the face_* options while face_crop is off)."""
        return () if self.face_crop else _FACE_FIELDS

    @property
    def uses_cuda(self) -> bool:
        """Whether ``device`` means a GPU here ("auto" does when CUDA is available)."""
        if self.device == "auto":
            import torch

            return torch.cuda.is_available()
        return self.device.startswith("cuda")

    def _problems(self) -> list[str]:
        p: list[str] = []
        p += weights_choice_problems(self.weights, self.random_init, self.size, SIZES)
        if not (isinstance(self.segment_s, (int, float)) and math.isfinite(self.segment_s) and self.segment_s > 0):
            p.append(f"segment_s must be a positive number of seconds, got {self.segment_s!r}")
        if not 0 < self.min_coverage <= 1:
            p.append(f"min_coverage must be in (0, 1], got {self.min_coverage!r}")
        for key in ("frames", "keep_tokens", "project_dim"):
            v = getattr(self, key)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                p.append(f"{key} must be a positive integer or None, got {v!r}")
        if self.precision not in PRECISIONS:
            p.append(f"precision '{self.precision}' is not one of {', '.join(PRECISIONS)}")
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            p.append(f"device '{self.device}' is not auto, cpu, cuda or cuda:N")
        p += self._face_problems()
        for key in ("batch_size", "prefetch"):
            v = getattr(self, key)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                p.append(f"{key} must be a positive integer, got {v!r}")
        return p

    def _face_problems(self) -> list[str]:
        p: list[str] = []
        if not self.face_crop:
            changed = [k for k in _FACE_FIELDS[1:] if getattr(self, k) != _FACE_DEFAULTS[k]]
            if changed:
                p.append(f"{', '.join(changed)} only apply with face_crop (add --face-crop or drop them)")
            return p
        if not (isinstance(self.face_margin, (int, float)) and 0 <= self.face_margin <= 2):
            p.append(f"face_margin must be a fraction of the face box in [0, 2], got {self.face_margin!r}")
        for key in ("face_smooth", "face_every"):
            v = getattr(self, key)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                p.append(f"{key} must be a positive integer, got {v!r}")
        if not (isinstance(self.face_hold_s, (int, float)) and self.face_hold_s >= 0):
            p.append(f"face_hold_s must be >= 0 seconds, got {self.face_hold_s!r}")
        if self.face_detector not in DETECTORS:
            p.append(f"face_detector '{self.face_detector}' is not one of {', '.join(DETECTORS)}")
        return p


_FACE_FIELDS = ("face_crop", "face_margin", "face_smooth", "face_every", "face_hold_s", "face_detector")
_FACE_DEFAULTS = {f.name: f.default for f in fields(VideoConfig) if f.name in _FACE_FIELDS}
