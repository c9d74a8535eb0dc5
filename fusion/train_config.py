"""TrainConfig: every knob of one stage-two training run, typed, frozen and checked up front.

The CLI builds it (defaults, then an optional YAML, then flags, combined with
``dataclasses.replace``); below the CLI every function takes this object, never a dict. The
resolved config is written into the run folder and into every checkpoint, so a run can be
evaluated or resumed without the command line that started it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

FUSIONS = ("gated-xattn", "late", "prefix", "eeg-only")
SPLITS = ("loso", "subject-kfold", "trial")
TASKS = ("binary", "regression")
TOKENIZERS = ("conv", "patch")
AMP_MODES = ("auto", "bf16", "fp16", "off")
DISTILL_KINDS = ("cosine", "mse")


@dataclass(frozen=True)
class TrainConfig:
    """One training run. Times in seconds, learning rates per step, memory in GB.

    ``modalities`` are fusion inputs by *stream name* ("eeg", "face", "voice", ...); a name that is
    a modality kind and matches no stream name ("video") means every stream of that kind.
    ``extractors`` picks the cache group per kind ("video:vivit"); unset kinds use the current group.
    ``teacher`` is "<stream or kind>:<extractor>" whose cached CLS tokens the EEG embedding is
    distilled towards, or None.
    """

    manifest_path: Path
    out_dir: Path
    cache_path: Path | None = None          # None: the cache named in the manifest
    fusion: str = "gated-xattn"
    split: str = "loso"
    folds: int = 5                          # k for subject-kfold / trial; ignored by loso
    max_folds: int | None = None            # run only the first N folds (quick looks, tests)
    val_subjects: int = 1                   # training subjects held out for early stopping (subject splits)
    epochs: int = 20
    max_steps: int | None = None            # stop each fold after this many optimiser steps (smoke tests)
    seed: int = 0
    modalities: tuple[str, ...] = ("eeg",)
    extractors: tuple[str, ...] = ()        # "kind:extractor" pins, e.g. ("video:vivit",)
    teacher: str | None = None
    labels: tuple[str, ...] = ("valence", "arousal")
    task: str = "binary"
    thresholds: tuple[tuple[str, float], ...] = ()  # overrides of the label scales' thresholds
    window_s: float = 4.0
    hop_s: float = 2.0
    batch_size: int = 32
    lr: float = 1e-3
    gate_lr_scale: float = 30.0             # gates learn this much faster: from 0 they move ~lr per step
    weight_decay: float = 0.05
    warmup_frac: float = 0.05
    grad_clip: float = 1.0
    grad_accum: int = 1
    grad_checkpoint: bool = False
    device: str = "auto"                    # auto | cpu | cuda | cuda:N
    amp: str = "auto"                       # auto (bf16 on CUDA, off on CPU) | bf16 | fp16 | off
    checkpoint_every: int = 0               # steps; 0 = only at epoch ends
    early_stop_patience: int = 5            # epochs without validation improvement
    modality_dropout: float = 0.2           # per-modality probability of dropping a non-EEG input
    aug_shift_s: float = 0.1                # EEG time shift, max seconds (student only)
    aug_scale: float = 0.1                  # EEG amplitude scaling, +- fraction
    aug_channel_drop: float = 0.1           # probability of zeroing each EEG channel
    aug_noise: float = 0.05                 # Gaussian noise, fraction of the (normalised) signal std
    distill_weight: float = 1.0
    distill_kind: str = "cosine"
    siglip_weight: float = 0.1
    ema_weight: float = 0.0                 # >0: EMA self-distillation of the fused embedding (fusion/ema.py)
    ema_decay: float = 0.996                # per optimiser step
    recon_weight: float = 0.0
    d_model: int = 64
    n_heads: int = 4
    eeg_layers: int = 2
    fusion_layers: int = 2
    eeg_tokenizer: str = "conv"
    patch_s: float = 0.25
    dropout: float = 0.1
    video_mixer: str = "gru"                # gru | none
    latents: int = 0                        # >0: compress each modality's tokens to this many PMA latents
    vram_budget_gb: float | None = None
    resume: bool = False

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ConfigError("training config: " + "; ".join(problems))

    def problems(self) -> list[str]:
        """Every invalid value at once, each with the accepted range."""
        p: list[str] = []

        def choice(name: str, allowed: tuple[str, ...]) -> None:
            if getattr(self, name) not in allowed:
                p.append(f"{name}={getattr(self, name)!r} is not one of {list(allowed)}")

        choice("fusion", FUSIONS)
        choice("split", SPLITS)
        choice("task", TASKS)
        choice("eeg_tokenizer", TOKENIZERS)
        choice("amp", AMP_MODES)
        choice("distill_kind", DISTILL_KINDS)
        choice("video_mixer", ("gru", "none"))
        for name in ("epochs", "batch_size", "grad_accum", "d_model", "n_heads", "folds"):
            if getattr(self, name) < 1:
                p.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.d_model % self.n_heads:
            p.append(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if self.window_s <= 0 or self.hop_s <= 0:
            p.append(f"window_s and hop_s must be > 0 seconds, got {self.window_s}, {self.hop_s}")
        if not 0.0 <= self.modality_dropout < 1.0:
            p.append(f"modality_dropout must be in [0, 1), got {self.modality_dropout}")
        if "eeg" not in self.modalities:
            p.append(f"modalities {list(self.modalities)} must include 'eeg' (the EEG branch gives the queries)")
        if self.split in ("subject-kfold", "trial") and self.folds < 2:
            p.append(f"split={self.split} needs folds >= 2, got {self.folds}")
        if not self.labels:
            p.append("labels must name at least one label (e.g. valence)")
        if self.teacher is not None and ":" not in self.teacher:
            p.append(f"teacher={self.teacher!r} must look like 'video:vivit' (stream or kind : extractor)")
        for pin in self.extractors:
            if ":" not in pin:
                p.append(f"extractors entry {pin!r} must look like 'video:vivit'")
        if self.ema_weight < 0 or not 0.0 <= self.ema_decay < 1.0:
            p.append(f"ema_weight must be >= 0 and ema_decay in [0, 1), got {self.ema_weight}, {self.ema_decay}")
        if self.max_steps is not None and self.max_steps < 1:
            p.append(f"max_steps must be >= 1 or None, got {self.max_steps}")
        return p

    @property
    def input_modalities(self) -> tuple[str, ...]:
        """Modalities actually read: EEG-only models read no other stream (so their caches need not exist)."""
        return ("eeg",) if self.fusion == "eeg-only" else self.modalities

    @property
    def extractor_pins(self) -> dict[str, str]:
        """kind -> extractor name from ``extractors`` (and the teacher's)."""
        return dict(pin.split(":", 1) for pin in self.extractors)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (paths as strings, tuples as lists)."""
        out = dataclasses.asdict(self)
        for k, v in out.items():
            if isinstance(v, Path):
                out[k] = str(v)
        return json.loads(json.dumps(out, default=str))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        """Inverse of ``to_dict``; unknown keys are an error naming them."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"training config: unknown key(s) {unknown}. Known keys: {sorted(names)}.")
        kw = dict(data)
        for k in ("manifest_path", "out_dir", "cache_path"):
            if kw.get(k) is not None:
                kw[k] = Path(kw[k])
        for k in ("modalities", "extractors", "labels"):
            if k in kw:
                kw[k] = tuple(kw[k])
        if "thresholds" in kw:
            kw["thresholds"] = tuple((str(a), float(b)) for a, b in kw["thresholds"])
        return cls(**kw)
