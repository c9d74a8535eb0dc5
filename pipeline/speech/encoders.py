"""Frozen self-supervised speech encoders (HuBERT, wav2vec 2.0): load once per process, embed segments.

Layers: transformers' ``hidden_states`` has ``num_hidden_layers + 1`` entries. Entry 0 is the
transformer's input (projected CNN features plus the positional convolution; layer-normed in the
base models), entry k is the output of transformer layer k. torchaudio's
``Wav2Vec2Model.extract_features`` returns the outputs of layers 1..L, so its ``[-1]`` is
``hidden_states[-1]``. In the base models (post-norm) that is also ``last_hidden_state``; in the
large, pre-norm models (``do_stable_layer_norm``) ``last_hidden_state`` has one more LayerNorm,
which torchaudio's ``extract_features`` does not apply, so we read ``hidden_states``, never
``last_hidden_state``.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.errors import ConfigError, WeightsError
from pipeline.hf_models import load_pretrained, quiet_progress, transformers_attr
from pipeline.speech.speech_config import SpeechConfig, SpeechEncoderSpec, speech_encoder_spec
from pipeline.weights import WeightsSource, find_weights, source_identity

_log = logging.getLogger(__name__)
_LOADED: dict[tuple, "LoadedSpeechEncoder"] = {}
_LOAD_LOCK = threading.Lock()
# Parameters only used for pre-training's masking; fine-tuned (CTC) checkpoints may lack them.
_UNUSED_AT_INFERENCE = ("masked_spec_embed",)


def resolve_speech_weights(encoder: str, cfg: SpeechConfig) -> WeightsSource:
    """Find the weights offline without loading them; WeightsError naming --weights and the hub id."""
    spec = speech_encoder_spec(encoder)
    return find_weights(f"speech encoder '{encoder}'", spec.hub_id, cfg.weights, cfg.random_init)


def speech_weights_identity(encoder: str, cfg: SpeechConfig) -> dict[str, Any]:
    """JSON-able identity of the weights for the fingerprint (no loading)."""
    recipe = {"encoder": encoder, "size": cfg.size, "seed": cfg.seed}
    return source_identity(resolve_speech_weights(encoder, cfg), recipe)


def random_init_config(spec: SpeechEncoderSpec, cfg: SpeechConfig) -> Any:
    """The architecture config for random init: defaults (= the hub base model), tiny overrides."""
    return transformers_attr(spec.config_class)(**(dict(spec.tiny) if cfg.size == "tiny" else {}))


def read_speech_config(encoder: str, cfg: SpeechConfig) -> Any:
    """The model config without loading weights."""
    spec = speech_encoder_spec(encoder)
    source = resolve_speech_weights(encoder, cfg)
    if source.kind == "random_init":
        return random_init_config(spec, cfg)
    return transformers_attr("AutoConfig").from_pretrained(source.folder, local_files_only=True)


def layer_index(encoder: str, hf_config: Any, layer: int) -> int:
    """``layer`` as a non-negative index into ``hidden_states``; ConfigError naming the valid range."""
    n = int(hf_config.num_hidden_layers)
    if not -(n + 1) <= layer <= n:
        raise ConfigError(f"{encoder}: layer {layer} does not exist; the model has hidden_states 0..{n} "
                          f"(0 = transformer input, {n} = last layer; -1 = last). Fix --layer.")
    return layer % (n + 1)


def resolve_speech_device(cfg: SpeechConfig) -> torch.device:
    """The torch device of a config; ConfigError when CUDA is asked for but absent."""
    name = "cuda" if cfg.device == "auto" and torch.cuda.is_available() else cfg.device
    name = "cpu" if name == "auto" else name
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device '{cfg.device}' requested but CUDA is not available. Use --device cpu.")
    return torch.device(name)


@dataclass
class LoadedSpeechEncoder:
    """A frozen speech model in eval mode, the hidden-state index it reads and where it runs."""

    encoder: str
    model: torch.nn.Module
    layer: int
    device: torch.device
    normalize: bool

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def embed(self, waves: np.ndarray) -> torch.Tensor:
        """waves ``(B, n)`` float at 16 kHz, equal lengths -> frames of the chosen layer ``(B, F, D)`` float32."""
        x = torch.as_tensor(waves, dtype=torch.float32, device=self.device)
        if self.normalize:  # per segment, as Wav2Vec2FeatureExtractor(do_normalize=True) does per input
            x = (x - x.mean(dim=1, keepdim=True)) / torch.sqrt(x.var(dim=1, keepdim=True, unbiased=False) + 1e-7)
        with torch.inference_mode():
            out = self.model(x, output_hidden_states=True)
        return out.hidden_states[self.layer].float()


def _materialise_random(spec: SpeechEncoderSpec, cfg: SpeechConfig, folder: Path) -> None:
    config = random_init_config(spec, cfg)
    with torch.random.fork_rng(devices=[]):  # seeded without touching the caller's global RNG
        torch.manual_seed(cfg.seed)
        model = transformers_attr(spec.model_class)(config)
    model.save_pretrained(folder)


def _load_from_folder(spec: SpeechEncoderSpec, folder: Path, cfg: SpeechConfig) -> LoadedSpeechEncoder:
    fix = f"Pass --weights to a save_pretrained folder of a {spec.name} model (default {spec.hub_id})."
    model, missing = load_pretrained(spec.model_class, folder, fix)
    missing = [k for k in missing if not k.endswith(_UNUSED_AT_INFERENCE)]
    if missing:  # transformers would fill them with random numbers
        raise WeightsError(f"{folder}: {len(missing)} {spec.model_class} parameters are missing "
                           f"({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}), so the embeddings "
                           f"would be partly random. {fix}")
    device = resolve_speech_device(cfg)
    model.eval().requires_grad_(False).to(device)
    layer = layer_index(spec.name, model.config, cfg.layer)
    return LoadedSpeechEncoder(spec.name, model, layer, device, cfg.normalize)


def load_speech_encoder(encoder: str, cfg: SpeechConfig) -> LoadedSpeechEncoder:
    """The frozen encoder of a config, loaded at most once per process (thread-safe)."""
    spec = speech_encoder_spec(encoder)
    source = resolve_speech_weights(encoder, cfg)
    key = (encoder, source.kind, str(source.folder), cfg.size, cfg.seed, cfg.layer, cfg.normalize, cfg.device)
    with _LOAD_LOCK, quiet_progress():
        if key not in _LOADED:
            _log.info("loading speech encoder %s (%s)", encoder, source.hub_id or source.folder or "random init")
            if source.kind == "random_init":
                with tempfile.TemporaryDirectory(prefix=f"eegavi-{encoder}-") as tmp:
                    _materialise_random(spec, cfg, Path(tmp))
                    _LOADED[key] = _load_from_folder(spec, Path(tmp), cfg)
            else:
                _LOADED[key] = _load_from_folder(spec, source.folder, cfg)
        return _LOADED[key]
