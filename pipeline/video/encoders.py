"""Frozen transformers video encoders: build, load once per process, run a batch of clips.

transformers is imported inside functions only (``pipeline.hf_models``), so importing the video
extractors (as the registry does, and stage two indirectly) never pulls in the vision models.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.errors import ConfigError, WeightsError
from pipeline.hf_models import load_pretrained, quiet_progress, transformers_attr
from pipeline.video.batcher import ForwardBatcher
from pipeline.video.compact import TokenLayout, image_size_of, layout_from_config
from pipeline.video.video_config import RANDOM_INIT_LABELS, EncoderSpec, VideoConfig, encoder_spec, model_class_name
from pipeline.video.preprocess import PreprocessSpec, load_processor_config
from pipeline.video.weights import WeightsSource, resolve_weights

_log = logging.getLogger(__name__)
_LOADED: dict[tuple, "LoadedEncoder"] = {}
_LOAD_LOCK = threading.Lock()


def random_init_config(spec: EncoderSpec, cfg: VideoConfig, head: str = "tokens") -> Any:
    """The architecture config for random init: defaults (= the hub base model), tiny overrides."""
    overrides = dict(spec.tiny) if cfg.size == "tiny" else {}
    if cfg.frames is not None and spec.name != "clip":
        overrides["num_frames"] = cfg.frames
    if head == "logits":
        overrides["num_labels"] = RANDOM_INIT_LABELS
    return transformers_attr(spec.config_class)(**overrides)


def random_processor_config(spec: EncoderSpec, image_size: int) -> dict[str, Any]:
    """The hub processor recipe scaled to ``image_size`` (the short-edge/crop ratio is kept)."""
    proc = json.loads(json.dumps(spec.processor_defaults))
    short = proc["size"]["shortest_edge"] * image_size // proc["crop_size"]["height"]
    proc["size"] = {"shortest_edge": short}
    proc["crop_size"] = {"height": image_size, "width": image_size}
    return proc


def _bare_vivit(spec: EncoderSpec, head: str) -> bool:
    """The bare ViViT is built without its pooler: nothing reads it (its classifier has none either)."""
    return spec.name == "vivit" and head == "tokens"


def materialise_random(spec: EncoderSpec, cfg: VideoConfig, folder: Path, head: str = "tokens") -> None:
    """Write a seeded random-weight model and its processor config to ``folder`` (save_pretrained)."""
    config = random_init_config(spec, cfg, head)
    model_cls = transformers_attr(model_class_name(spec, head))
    with torch.random.fork_rng(devices=[]):  # seeded without touching the caller's global RNG
        torch.manual_seed(cfg.seed)
        model = model_cls(config, add_pooling_layer=False) if _bare_vivit(spec, head) else model_cls(config)
    model.save_pretrained(folder)
    image = int(config.image_size)
    (folder / "preprocessor_config.json").write_text(json.dumps(random_processor_config(spec, image), indent=1))


def read_hf_config(spec: EncoderSpec, source: WeightsSource, cfg: VideoConfig, head: str = "tokens") -> Any:
    """The model config without loading weights; a full CLIP config yields its vision part."""
    if source.kind == "random_init":
        return random_init_config(spec, cfg, head)
    config = transformers_attr("AutoConfig").from_pretrained(source.folder, local_files_only=True)
    return getattr(config, "vision_config", config)


def resolve_layout(encoder: str, hf_config: Any, cfg: VideoConfig, head: str = "tokens") -> TokenLayout:
    """Frames per segment and the token layout; checks frames and compaction against the model."""
    spec = encoder_spec(encoder)
    model_class_name(spec, head)  # an encoder without a classifier refuses head "logits" here
    if head == "logits" and (cfg.keep_tokens is not None or cfg.project_dim is not None):
        raise ConfigError(f"{encoder}: --keep-tokens and --project-dim compact tokens, but --head logits writes "
                          "class logits. Drop them, or use --head tokens.")
    model_frames = getattr(hf_config, "num_frames", None)
    frames = cfg.frames or spec.default_frames or model_frames
    if model_frames is not None and frames != model_frames:
        raise ConfigError(f"{encoder}: frames={frames} but the model was built for {model_frames} frames per clip. "
                          f"Drop --frames or set it to {model_frames}.")
    layout = layout_from_config(encoder, hf_config, frames)
    if cfg.keep_tokens is not None and cfg.keep_tokens > layout.units:
        raise ConfigError(f"{encoder}: keep_tokens ({cfg.keep_tokens}) exceeds the {layout.units} time tokens per "
                          "segment. Lower --keep-tokens.")
    if cfg.project_dim is not None and cfg.project_dim > layout.dim:
        raise ConfigError(f"{encoder}: project_dim ({cfg.project_dim}) exceeds the encoder width ({layout.dim}). "
                          "Lower --project-dim.")
    return layout


def resolve_device(cfg: VideoConfig) -> tuple[torch.device, torch.dtype | None]:
    """The torch device and the autocast dtype (None = plain fp32)."""
    name = cfg.device
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device '{cfg.device}' requested but CUDA is not available. Use --device cpu.")
    precision = cfg.precision  # "auto" was resolved when the config was built
    if precision == "fp16" and device.type != "cuda":
        raise ConfigError("precision 'fp16' needs CUDA; on CPU use --precision bf16 (fast where the CPU has "
                          "AMX or AVX512-BF16) or fp32 (the default).")
    return device, {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (AMX tiles or AVX512-BF16), as torch's cpuinfo sees it."""
    probes = (getattr(torch.cpu, "_is_amx_tile_supported", None), getattr(torch.cpu, "_is_avx512_bf16_supported", None))
    return any(probe is not None and probe() for probe in probes)


@dataclass
class LoadedEncoder:
    """A frozen model in eval mode with what is needed to feed it and read its tokens."""

    encoder: str
    model: torch.nn.Module
    layout: TokenLayout
    preprocess: PreprocessSpec
    device: torch.device
    autocast: torch.dtype | None
    head: str = "tokens"
    labels: tuple[str, ...] = ()   # class names of head "logits", in logit order
    _batchers: dict[int, ForwardBatcher] = field(default_factory=dict, init=False, repr=False, compare=False)
    _batchers_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def batcher(self, batch_size: int) -> ForwardBatcher:
        """The shared batcher merging concurrent callers' batches into passes of <= batch_size clips."""
        with self._batchers_lock:
            if batch_size not in self._batchers:
                # a lambda, not the bound method: forward looked up per call (tests wrap it)
                self._batchers[batch_size] = ForwardBatcher(lambda pixels: self.forward(pixels), batch_size)
            return self._batchers[batch_size]

    def forward(self, pixels: np.ndarray) -> torch.Tensor:
        """pixels ``(B, frames, 3, H, W)`` float32 -> last hidden state (CLIP: per frame) or logits ``(B, C)``."""
        x = torch.from_numpy(pixels).to(self.device, non_blocking=True)
        if self.encoder == "clip":
            x = x.reshape(-1, *x.shape[2:])                                   # (B*T, 3, H, W)
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=self.autocast or torch.float32,
                                                   enabled=self.autocast is not None):
            out = self.model(pixel_values=x)
        return (out.logits if self.head == "logits" else out.last_hidden_state).float()


def _load_from_folder(spec: EncoderSpec, folder: Path, cfg: VideoConfig, head: str = "tokens") -> LoadedEncoder:
    class_name = model_class_name(spec, head)
    kwargs: dict[str, Any] = {"add_pooling_layer": False} if _bare_vivit(spec, head) else {}
    fix = f"Pass --weights to a save_pretrained folder of a {spec.name} model (default {spec.hub_id})."
    model, missing = load_pretrained(class_name, folder, fix, **kwargs)
    missing_head = [k for k in missing if k.startswith("classifier")]
    if head == "logits" and missing_head:  # transformers would fill the classifier with random numbers
        raise WeightsError(f"{folder}: has no trained classification head ({', '.join(sorted(missing_head))} missing), "
                           f"so its logits would be random. Pass --weights to a {class_name} checkpoint such as "
                           f"{spec.hub_id}, or use --head tokens.")
    layout = resolve_layout(spec.name, model.config, cfg, head)
    image = image_size_of(model.config)
    preprocess = PreprocessSpec.from_dict(load_processor_config(folder, spec.processor_defaults), image)
    device, autocast = resolve_device(cfg)
    if autocast is torch.bfloat16 and device.type == "cpu" and not cpu_has_fast_bf16():  # once, where it runs
        _log.warning("precision bf16 on a CPU without AMX or AVX512-BF16 is emulated and slower than fp32; "
                     "use --precision fp32 (the default on CPU).")
    model.eval().requires_grad_(False).to(device)
    labels = tuple(str(model.config.id2label[i]) for i in range(model.config.num_labels)) if head == "logits" else ()
    return LoadedEncoder(spec.name, model, layout, preprocess, device, autocast, head, labels)


def load_encoder(encoder: str, cfg: VideoConfig, head: str = "tokens") -> LoadedEncoder:
    """The frozen encoder for a config and output head, loaded at most once per process (thread-safe)."""
    spec = encoder_spec(encoder)
    source = resolve_weights(encoder, cfg)
    # compaction options are not part of the key: one loaded model serves them all
    key = (encoder, head, source.kind, str(source.folder), cfg.size, cfg.seed, cfg.frames, cfg.device, cfg.precision)
    with _LOAD_LOCK, quiet_progress():
        if key not in _LOADED:
            _log.info("loading video encoder %s (%s)", encoder, source.hub_id or source.folder or "random init")
            if source.kind == "random_init":
                with tempfile.TemporaryDirectory(prefix=f"eegavi-{encoder}-") as tmp:
                    materialise_random(spec, cfg, Path(tmp), head)
                    _LOADED[key] = _load_from_folder(spec, Path(tmp), cfg, head)
            else:
                _LOADED[key] = _load_from_folder(spec, source.folder, cfg, head)
        loaded = _LOADED[key]
    resolve_layout(encoder, loaded.model.config, cfg, head)  # checks keep_tokens / project_dim of this config
    return loaded
