"""The speech extractors "hubert" and "wav2vec2": self-supervised speech embeddings per segment.

Modality "audio": they read the same streams as the paralinguistic "audio" extractor and write
groups ``audio/hubert-<fp>`` and ``audio/wav2vec2-<fp>``. Their ``frames`` array (one row per
segment) is what stage two's audio input reads, so a speech group can stand in for the
paralinguistic one. The model is loaded lazily, once per process; ``weights_identity`` and
``describe`` never load weights, so the runner fails early on missing weights.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pipeline.extractors.base import BaseExtractor, FeatureArrays, register_extractor
from pipeline.manifest import Recording, Stream
from pipeline.speech.speech_config import SAMPLE_RATE, SpeechConfig, speech_encoder_spec


class SpeechExtractor(BaseExtractor):
    """Frozen speech encoder -> ``frames`` (S, D) float32 segment means of one layer, optional
    ``tokens`` (S, K, D) float16, with segment intervals (S, 2)."""

    modality: ClassVar[str] = "audio"
    version: ClassVar[str] = "1"
    config_type: ClassVar[type] = SpeechConfig
    libraries: ClassVar[tuple[str, ...]] = ("numpy", "torch", "transformers", "soxr", "soundfile", "av")

    config: SpeechConfig

    def weights_identity(self) -> dict[str, Any]:
        """Hub id + revision, sha256 of local weight files, or the random-init recipe (no loading)."""
        from pipeline.speech.encoders import speech_weights_identity

        return speech_weights_identity(self.name, self.config)

    def check_ready(self) -> None:
        """Fail before any work: weights present offline, the layer exists, the device is usable."""
        from pipeline.speech.encoders import layer_index, read_speech_config, resolve_speech_device

        layer_index(self.name, read_speech_config(self.name, self.config), self.config.layer)
        resolve_speech_device(self.config)

    def describe(self) -> dict[str, Any]:
        """Encoder, weights, layer and shapes: cache group attributes."""
        from pipeline.speech.encoders import layer_index, read_speech_config, resolve_speech_weights

        source = resolve_speech_weights(self.name, self.config)
        hf_config = read_speech_config(self.name, self.config)
        return {"encoder": self.name, "model_class": speech_encoder_spec(self.name).model_class,
                "weights": source.hub_id or (str(source.folder) if source.folder else None),
                "random_init": self.config.random_init, "sr": SAMPLE_RATE, "segment_s": self.config.segment_s,
                "layer": layer_index(self.name, hf_config, self.config.layer),
                "num_hidden_layers": int(hf_config.num_hidden_layers), "dim": int(hf_config.hidden_size),
                "tokens_per_segment": self.config.tokens, "frame_hop_s": 0.02}

    def extract(self, recording: Recording, stream: Stream) -> FeatureArrays:
        """Embeddings of one audio stream; ExtractionError for a bad file, WeightsError without weights."""
        from pipeline.speech.embed import extract_speech
        from pipeline.speech.encoders import load_speech_encoder

        return extract_speech(load_speech_encoder(self.name, self.config), self.config, stream)


@register_extractor
class HubertExtractor(SpeechExtractor):
    """HuBERT-base (facebook/hubert-base-ls960; torchaudio's HUBERT_BASE weights): VATE's audio input."""

    name: ClassVar[str] = "hubert"


@register_extractor
class Wav2Vec2Extractor(SpeechExtractor):
    """wav2vec 2.0 base, self-supervised only (facebook/wav2vec2-base)."""

    name: ClassVar[str] = "wav2vec2"
