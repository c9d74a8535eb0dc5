"""The speech stage's frozen config and the table of supported self-supervised speech encoders.

Every field is a plain JSON value, because ``dataclasses.asdict(config)`` goes into the cache
fingerprint; ``runtime_fields`` names those that only change speed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pipeline.errors import ConfigError
from pipeline.weights import weights_choice_problems

SAMPLE_RATE = 16000  # both model families were trained on 16 kHz audio; every input is resampled to it


@dataclass(frozen=True)
class SpeechEncoderSpec:
    """One encoder family: its default hub weights and transformers classes (imported lazily).

    ``tiny`` overrides the architecture config for ``--random-init --size tiny``: the real
    convolutional front end (20 ms frames, 25 ms receptive field) with a narrow, 2-layer transformer.
    """

    name: str
    hub_id: str
    model_class: str
    config_class: str
    tiny: dict[str, Any] = field(hash=False, compare=False)


_TINY = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128,
         "conv_dim": (32,) * 7, "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 4}

SPEECH_ENCODERS: dict[str, SpeechEncoderSpec] = {
    "hubert": SpeechEncoderSpec("hubert", "facebook/hubert-base-ls960", "HubertModel", "HubertConfig", dict(_TINY)),
    "wav2vec2": SpeechEncoderSpec("wav2vec2", "facebook/wav2vec2-base", "Wav2Vec2Model", "Wav2Vec2Config",
                                  dict(_TINY)),
}
SIZES = ("tiny", "base")


def speech_encoder_spec(name: str) -> SpeechEncoderSpec:
    """The spec of a known speech encoder; ConfigError listing the valid ones otherwise."""
    try:
        return SPEECH_ENCODERS[name]
    except KeyError:
        raise ConfigError(f"unknown speech encoder '{name}'. Valid encoders: {', '.join(SPEECH_ENCODERS)}.") from None


@dataclass(frozen=True)
class SpeechConfig:
    """Options of the speech extractors (hubert, wav2vec2); the encoder is the extractor name.

    weights:      hub id or local save_pretrained folder; None = the encoder's default hub id. Offline only.
    random_init:  build the architecture with seeded random weights instead of loading any.
    size:         with random_init: "tiny" (default; 2 layers, width 64) or "base" (real size).
    layer:        index into the model's ``hidden_states``: 0 = the transformer's input (after the
                  positional convolution), k = output of transformer layer k, -1 = the last layer.
                  -1 is what torchaudio's ``HUBERT_BASE`` ``extract_features(x)[0][-1]`` returns (VATE's input).
    segment_s:    segment length on the recording clock, s; the grid ``[k * segment_s, (k + 1) * segment_s)``
                  shared with video. Each segment's audio is encoded on its own (its context is the segment).
    min_coverage: a partly covered segment is kept (with its true interval) when audio covers this fraction.
    tokens:       also store K frame-level tokens per segment (means over K equal parts of the segment);
                  None = only the per-segment mean.
    normalize:    zero-mean, unit-variance per segment before the model (checkpoints trained with fairseq's
                  normalize=True, e.g. the large LV-60k ones, expect it; the base models and torchaudio's
                  HUBERT_BASE bundle do not).
    seed:         seed of the random-init weights.
    device:       "auto" (cuda if available), "cpu", "cuda", "cuda:N". Not fingerprinted (fp32 everywhere).
    batch_size:   segments per forward pass. Not fingerprinted.
    """

    weights: str | None = None
    random_init: bool = False
    size: str | None = None
    layer: int = -1
    segment_s: float = 2.0
    min_coverage: float = 0.5
    tokens: int | None = None
    normalize: bool = False
    seed: int = 0
    device: str = "auto"
    batch_size: int = 8

    runtime_fields: ClassVar[tuple[str, ...]] = ("batch_size", "device")

    def __post_init__(self) -> None:
        problems = self._problems()
        if problems:
            raise ConfigError("speech config: " + "; ".join(problems) + ".")
        if self.random_init and self.size is None:
            object.__setattr__(self, "size", "tiny")  # resolved here so the fingerprint sees "tiny"

    def _problems(self) -> list[str]:
        p: list[str] = []
        p += weights_choice_problems(self.weights, self.random_init, self.size, SIZES)
        if not isinstance(self.layer, int) or isinstance(self.layer, bool):
            p.append(f"layer must be an integer index into hidden_states, got {self.layer!r}")
        if not (isinstance(self.segment_s, (int, float)) and math.isfinite(self.segment_s) and self.segment_s >= 0.05):
            p.append(f"segment_s must be at least 0.05 s (two 20 ms frames), got {self.segment_s!r}")
        if not 0 < self.min_coverage <= 1:
            p.append(f"min_coverage must be in (0, 1], got {self.min_coverage!r}")
        if self.tokens is not None and (not isinstance(self.tokens, int) or isinstance(self.tokens, bool)
                                        or self.tokens < 1):
            p.append(f"tokens must be a positive integer or None, got {self.tokens!r}")
        if not isinstance(self.batch_size, int) or isinstance(self.batch_size, bool) or self.batch_size < 1:
            p.append(f"batch_size must be a positive integer, got {self.batch_size!r}")
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            p.append(f"device '{self.device}' is not auto, cpu, cuda or cuda:N")
        return p
