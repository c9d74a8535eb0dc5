"""TrainConfig: every knob of one stage-two training run, typed, frozen, nested and checked up front.

The run's settings fall into groups that different code reads: ``data`` (what is read and how it is
cut and split), ``model`` (the architecture; ``fusion.model.FusionConfig`` itself, so nothing copies
fields into it), ``optimisation`` (optimiser, schedule, precision, stopping), ``augment`` (student
augmentation and modality dropout), ``losses`` (auxiliary loss weights and the teacher) and
``runtime`` (where and how it runs). Every leaf name is unique across the groups, so the CLI's flat
options and ``--set key=value`` map onto the tree by leaf name (``--set d_model=64``) or by dotted
path (``--set model.d_model=64``); ``pipeline.config_layers.layer_config`` is that one mapping, and
``TrainConfig.from_options``/``override`` use it too. The resolved config is written, nested, into
the run folder and every checkpoint, so a run can be evaluated or resumed without its command line.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fusion.classic import CLASSIFIERS
from fusion.model import FusionConfig
from fusion.splits import SPLITS
from pipeline.config_layers import layer_config
from pipeline.errors import ConfigError

FUSIONS = ("gated-xattn", "late", "prefix", "eeg-only", "classic")  # classic: fusion/classic.py, no network
NORMALISE = ("train", "subject", "baseline")  # see fusion/normalise.py
TASKS = ("binary", "regression")
TOKENIZERS = ("conv", "patch")
VIDEO_MIXERS = ("gru", "none")
AMP_MODES = ("auto", "bf16", "fp16", "off")
DISTILL_KINDS = ("cosine", "mse")


@dataclass(frozen=True)
class DataConfig:
    """What is read, how recordings are cut into windows (seconds) and split into folds.

    ``modalities`` are fusion inputs by *stream name* ("eeg", "face", "voice", ...); a name that is
    a modality kind and matches no stream name ("video") means every stream of that kind.
    ``extractors`` picks the cache group per kind ("video:vivit"); unset kinds use the current group.
    """

    manifest: Path
    cache: str | None = None           # a folder or fsspec URL; None: the cache named in the manifest
    modalities: tuple[str, ...] = ("eeg",)
    extractors: tuple[str, ...] = ()        # "kind:extractor" pins, e.g. ("video:vivit",)
    labels: tuple[str, ...] = ("valence", "arousal")
    task: str = "binary"
    thresholds: tuple[tuple[str, float], ...] = ()  # overrides of the label scales' thresholds
    window_s: float = 4.0
    hop_s: float = 2.0
    split: str = "loso"
    folds: int = 5                          # k of every split but loso (within-subject: k per subject)
    max_folds: int | None = None            # run only the first N folds (quick looks, tests)
    val_subjects: int = 1                   # training subjects held out for early stopping (subject splits)
    normalise: str = "train"                # train | subject (transductive) | baseline (pre-trial segment)

    @property
    def extractor_pins(self) -> dict[str, str]:
        """kind -> extractor name from ``extractors``."""
        return dict(pin.split(":", 1) for pin in self.extractors)


@dataclass(frozen=True)
class OptimisationConfig:
    """Optimiser, schedule, precision and stopping. Learning rates per step, ``warmup_frac`` of all steps."""

    epochs: int = 20
    max_steps: int | None = None            # stop each fold after this many optimiser steps (smoke tests)
    batch_size: int = 32
    lr: float = 1e-3
    gate_lr_scale: float = 30.0             # gates learn this much faster: from 0 they move ~lr per step
    weight_decay: float = 0.05
    warmup_frac: float = 0.05
    grad_clip: float = 1.0
    grad_accum: int = 1
    amp: str = "auto"                       # auto (bf16 on CUDA, off on CPU) | bf16 | fp16 | off
    checkpoint_every: int = 0               # steps; 0 = only at epoch ends
    early_stop_patience: int = 5            # epochs without validation improvement


@dataclass(frozen=True)
class AugmentConfig:
    """What only the student sees: EEG augmentation and modality dropout."""

    modality_dropout: float = 0.2           # per-modality probability of dropping a non-EEG input
    aug_shift_s: float = 0.1                # EEG time shift, max seconds
    aug_scale: float = 0.1                  # EEG amplitude scaling, +- fraction
    aug_channel_drop: float = 0.1           # probability of zeroing each EEG channel
    aug_noise: float = 0.05                 # Gaussian noise, fraction of the (normalised) signal std


@dataclass(frozen=True)
class LossConfig:
    """Weights of the auxiliary losses (0 = off) next to the task loss.

    ``teacher`` is "<stream or kind>:<extractor>" whose cached CLS tokens the EEG embedding is
    distilled towards, a derived teacher's "<teacher>:<part>" (``vate:video``, ``vate:audio``:
    the cached VATE embeddings, masked where their upstream is missing), or None.
    """

    teacher: str | None = None
    distill_weight: float = 1.0
    distill_kind: str = "cosine"
    siglip_weight: float = 0.1
    ema_weight: float = 0.0                 # >0: EMA self-distillation of the fused embedding (fusion/ema.py)
    ema_decay: float = 0.996                # per optimiser step
    recon_weight: float = 0.0


@dataclass(frozen=True)
class RuntimeConfig:
    """Where the run writes and what it runs on; memory in GB."""

    out: Path
    device: str = "auto"                    # auto | cpu | cuda | cuda:N
    seed: int = 0
    vram_budget_gb: float | None = None
    resume: bool = False


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """One training run, in groups (see the module doc). Build it from flat options with
    ``TrainConfig.from_options(manifest=..., out=..., d_model=32)``."""

    data: DataConfig
    model: FusionConfig = field(default_factory=FusionConfig)
    optimisation: OptimisationConfig = field(default_factory=OptimisationConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    losses: LossConfig = field(default_factory=LossConfig)
    runtime: RuntimeConfig

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ConfigError("training config: " + "; ".join(problems))

    def problems(self) -> list[str]:
        """Every invalid value at once, each with its dotted key and the accepted range."""
        p: list[str] = []
        choices = {"model.fusion": FUSIONS, "data.split": SPLITS, "data.task": TASKS,
                   "model.eeg_tokenizer": TOKENIZERS, "optimisation.amp": AMP_MODES,
                   "losses.distill_kind": DISTILL_KINDS, "model.video_mixer": VIDEO_MIXERS, "data.normalise": NORMALISE,
                   "model.classic_model": CLASSIFIERS}
        for key, allowed in choices.items():
            if self.get(key) not in allowed:
                p.append(f"{key}={self.get(key)!r} is not one of {list(allowed)}")
        for key in ("optimisation.epochs", "optimisation.batch_size", "optimisation.grad_accum", "model.d_model",
                    "model.n_heads", "data.folds"):
            if self.get(key) < 1:
                p.append(f"{key} must be >= 1, got {self.get(key)}")
        d, m, o, lo = self.data, self.model, self.optimisation, self.losses
        if m.n_heads >= 1 and m.d_model % m.n_heads:
            p.append(f"model.d_model ({m.d_model}) must be divisible by model.n_heads ({m.n_heads})")
        if d.window_s <= 0 or d.hop_s <= 0:
            p.append(f"data.window_s and data.hop_s must be > 0 seconds, got {d.window_s}, {d.hop_s}")
        if not 0.0 <= self.augment.modality_dropout < 1.0:
            p.append(f"augment.modality_dropout must be in [0, 1), got {self.augment.modality_dropout}")
        if "eeg" not in d.modalities:
            p.append(f"data.modalities {list(d.modalities)} must include 'eeg' (the EEG branch gives the queries)")
        if m.fusion == "classic" and d.task != "binary":
            p.append("model.fusion='classic' (band power + logistic regression) needs data.task='binary'")
        if d.split != "loso" and d.folds < 2:
            p.append(f"data.split={d.split} needs data.folds >= 2, got {d.folds}")
        if not d.labels:
            p.append("data.labels must name at least one label (e.g. valence)")
        if lo.teacher is not None and ":" not in lo.teacher:
            p.append(f"losses.teacher={lo.teacher!r} must look like 'video:vivit' (stream or kind : extractor) "
                     "or 'vate:video' (teacher : part)")
        p += [f"data.extractors entry {pin!r} must look like 'video:vivit'" for pin in d.extractors if ":" not in pin]
        if lo.ema_weight < 0 or not 0.0 <= lo.ema_decay < 1.0:
            p.append(f"losses.ema_weight must be >= 0 and losses.ema_decay in [0, 1), got {lo.ema_weight}, "
                     f"{lo.ema_decay}")
        if o.max_steps is not None and o.max_steps < 1:
            p.append(f"optimisation.max_steps must be >= 1 or None, got {o.max_steps}")
        return p

    def get(self, key: str) -> Any:
        """The value at a dotted key, e.g. ``cfg.get("model.d_model")``."""
        value: Any = self
        for part in key.split("."):
            value = getattr(value, part)
        return value

    @property
    def input_modalities(self) -> tuple[str, ...]:
        """Modalities actually read: EEG-only models read no other stream (so their caches need not exist)."""
        return ("eeg",) if self.model.fusion in ("eeg-only", "classic") else self.data.modalities

    def to_dict(self) -> dict[str, Any]:
        """Nested JSON-able form (paths as strings, tuples as lists), as written to config.json."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        """Inverse of ``to_dict``; unknown keys are an error naming them and the known ones. Runs
        saved before the option-named fields (``manifest_path``, ``cache_path``, ``out_dir``) still read."""
        return layer_config(cls, _renamed_keys(data))

    @classmethod
    def from_options(cls, *layers: dict[str, Any] | None, **options: Any) -> "TrainConfig":
        """Defaults, then each layer, then ``options``; keys are leaf names or dotted paths."""
        return layer_config(cls, *layers, options)

    def override(self, **options: Any) -> "TrainConfig":
        """A copy with some leaves changed, by leaf name or dotted path (``override(seed=3)``)."""
        return layer_config(type(self), self.to_dict(), options)


# Field names of runs saved before the fields took the CLI options' words (issue 12).
_RENAMED_FIELDS = {"manifest_path": "manifest", "cache_path": "cache", "out_dir": "out"}


def _renamed_keys(data: Any) -> Any:
    """A saved config with old field names mapped to today's, at any nesting depth."""
    if not isinstance(data, dict):
        return data
    return {_RENAMED_FIELDS.get(k, k): _renamed_keys(v) for k, v in data.items()}
