"""Token layouts of the three encoders and their compaction to ``[1 + T, D]`` per segment.

Layouts (read from the model config, never hard-coded):
- ViViT:       ``[CLS] + T' x P`` with T' = frames / tubelet time size, tokens time-major (t, p).
- TimeSformer: ``[CLS] + P x T``, tokens patch-major (p, t): the order its embedding builds.
- CLIP:        per frame ``[CLS] + P``; the model runs on every frame separately.

Compaction (no training): keep the CLS token; mean over the P spatial patches gives one token per
tubelet (ViViT) or frame (TimeSformer). CLIP keeps two tokens per frame, the frame's CLS and the
mean of its patches, interleaved in time order, and its segment token is the mean of the frame
CLS tokens: ``[mean CLS, CLS_1, patch_mean_1, ..., CLS_T, patch_mean_T]``. Then, optionally,
keep K time units evenly spaced (``floor((k + 0.5) * T / K)``) and project every token with a
fixed seeded matrix with orthonormal columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from pipeline.errors import ConfigError


@dataclass(frozen=True)
class TokenLayout:
    """Shape facts of one encoder run on one segment.

    frames: frames sampled per segment; units: time tokens after pooling (tubelets or frames);
    patches: spatial patches per unit (per frame for CLIP); dim: hidden width D;
    tokens_per_unit: 1 (ViViT, TimeSformer) or 2 (CLIP: frame CLS + frame patch mean).
    """

    encoder: str
    frames: int
    units: int
    patches: int
    dim: int
    tokens_per_unit: int

    @property
    def tokens_before(self) -> int:
        """Encoder output tokens per segment (CLIP: summed over its frames)."""
        if self.encoder == "clip":
            return self.frames * (1 + self.patches)
        return 1 + self.units * self.patches

    def tokens_after(self, keep_tokens: int | None) -> int:
        """Tokens per segment after compaction: 1 + kept units x tokens per unit."""
        return 1 + (keep_tokens or self.units) * self.tokens_per_unit


def image_size_of(config: Any) -> int:
    """The model's square input size in pixels."""
    size = config.image_size
    return int(size[0] if isinstance(size, (tuple, list)) else size)


def layout_from_config(encoder: str, config: Any, frames: int) -> TokenLayout:
    """The layout for a transformers config (VivitConfig, TimesformerConfig or CLIPVisionConfig)."""
    image = image_size_of(config)
    if encoder == "vivit":
        t, ph, pw = config.tubelet_size
        if frames % t:
            raise ConfigError(f"vivit: frames ({frames}) must be a multiple of the tubelet time size ({t}).")
        return TokenLayout("vivit", frames, frames // t, (image // ph) * (image // pw), config.hidden_size, 1)
    patches = (image // config.patch_size) ** 2
    if encoder == "timesformer":
        return TokenLayout("timesformer", frames, frames, patches, config.hidden_size, 1)
    return TokenLayout("clip", frames, frames, patches, config.hidden_size, 2)


def keep_indices(units: int, keep: int | None) -> np.ndarray:
    """Indices of the K time units kept: ``floor((k + 0.5) * units / K)``, all units when K is None."""
    if keep is None:
        return np.arange(units)
    if keep > units:
        raise ConfigError(f"keep_tokens ({keep}) exceeds the {units} time tokens per segment. Lower --keep-tokens.")
    return np.floor((np.arange(keep) + 0.5) * units / keep).astype(np.int64)


def projection_matrix(dim: int, out_dim: int, seed: int) -> np.ndarray:
    """A fixed ``(dim, out_dim)`` float32 matrix with orthonormal columns (QR of a seeded Gaussian)."""
    if out_dim > dim:
        raise ConfigError(f"project_dim ({out_dim}) exceeds the encoder width ({dim}). Lower --project-dim.")
    gauss = np.random.default_rng(seed).standard_normal((dim, out_dim))
    q, r = np.linalg.qr(gauss)
    q = q * np.sign(np.diag(r))[None, :]  # sign fix: makes the factorisation unique
    return q.astype(np.float32)


def pool_tokens(hidden: torch.Tensor, layout: TokenLayout) -> tuple[torch.Tensor, torch.Tensor]:
    """Split encoder output into (segment CLS ``(B, D)``, unit tokens ``(B, U, tokens_per_unit, D)``).

    hidden: ``(B, 1 + N, D)`` for ViViT/TimeSformer, ``(B * frames, 1 + P, D)`` for CLIP.
    """
    u, p, d = layout.units, layout.patches, layout.dim
    if layout.encoder == "clip":
        per_frame = hidden.reshape(-1, layout.frames, 1 + p, d)          # (B, T, 1+P, D)
        frame_cls = per_frame[:, :, 0]                                      # (B, T, D)
        patch_mean = per_frame[:, :, 1:].mean(dim=2)                        # (B, T, D)
        return frame_cls.mean(dim=1), torch.stack([frame_cls, patch_mean], dim=2)  # (B, D), (B, T, 2, D)
    cls, patches = hidden[:, 0], hidden[:, 1:]
    if layout.encoder == "vivit":
        units = patches.reshape(-1, u, p, d).mean(dim=2)                    # (B, T', D): time-major
    else:
        units = patches.reshape(-1, p, u, d).mean(dim=1)                    # (B, T, D): patch-major
    return cls, units[:, :, None, :]


def compact_tokens(hidden: torch.Tensor, layout: TokenLayout, keep: np.ndarray,
                   projection: np.ndarray | None) -> torch.Tensor:
    """Compacted tokens ``(B, 1 + K * tokens_per_unit, D or d)`` in float32."""
    cls, units = pool_tokens(hidden.float(), layout)
    units = units[:, torch.as_tensor(keep, device=units.device)]            # (B, K, tpu, D)
    tokens = torch.cat([cls[:, None], units.reshape(units.shape[0], -1, layout.dim)], dim=1)
    if projection is not None:
        tokens = tokens @ torch.as_tensor(projection, device=tokens.device)
    return tokens
