"""The fusion model, in one file: EEG branch + gated cross-attention to cached modality tokens.

Reading order: FusionConfig and ModelInputs, then the building blocks (Attention, MLP, Block, PMA), the EEG
tokenizers, the per-modality encoders, the gated cross-attention block, and FusionModel.

Why the pieces look as they do:
- EEG tokens are the queries: the model must work, and is finally judged, on EEG alone.
- Gated cross-attention (Flamingo): pre-norm, ``tanh`` gates initialised at 0, so an untrained
  block is the identity and the model starts as the EEG-only model. Each modality's attention and
  FFN outputs are multiplied by its per-sample availability, because a masked softmax over an
  all-masked row still produces (uniform) weights: only the multiplication makes a dropped or
  missing modality contribute exactly nothing.
- FiLM from static covariates predicts (delta-gamma, beta) from a zero-initialised layer, so it
  starts as the identity too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint


@dataclass(frozen=True)
class ModalityConfig:
    """One non-EEG input: stream name, kind, pad size and the shape of one item of each array."""

    name: str
    kind: str                                   # video | audio | ecg
    n_items: int                                # pad size (segments, frames, beats) per window
    shapes: tuple[tuple[str, tuple[int, ...]], ...]  # (("tokens", (1+T, D)),) etc.

    def shape(self, key: str) -> tuple[int, ...]:
        return dict(self.shapes)[key]


@dataclass(frozen=True)
class FusionConfig:
    """The architecture a user chooses; it is ``TrainConfig.model`` itself. What the data fixes
    (channels, window samples, modalities, ...) is in ``ModelInputs``."""

    fusion: str = "gated-xattn"                 # gated-xattn | late | prefix | eeg-only
    d_model: int = 64
    n_heads: int = 4
    eeg_layers: int = 2
    fusion_layers: int = 2
    eeg_tokenizer: str = "conv"                 # conv (channels mixed) | patch (channels kept)
    conv_filters: int = 40
    conv_kernel_s: float = 0.25                 # temporal filter length: 0.25 s separates alpha from beta
    conv_pool_s: float = 0.5                    # band-power window; tokens every conv_pool_s / 2
    patch_s: float = 0.25
    latents: int = 0                            # >0: compress each modality to M latents (PMA)
    video_mixer: str = "gru"                    # gru | none
    dropout: float = 0.1
    grad_checkpoint: bool = False
    classic_model: str = "logreg"               # --fusion classic only: logreg | svm (fusion/classic.py)


@dataclass(frozen=True)
class ModelInputs:
    """What the data fixes about the model: EEG layout, outputs, the other modalities' shapes."""

    n_channels: int
    n_samples: int                              # EEG samples per window
    sfreq: float                                # Hz
    n_outputs: int                              # one per label
    modalities: tuple[ModalityConfig, ...] = ()
    n_covariates: int = 0
    teacher_dim: int = 0                        # 0: no distillation head


# ----------------------------------------------------------------------------- building blocks

class Attention(nn.Module):
    """Multi-head attention; ``key_mask`` (B, N) True = attend. Rows with no valid key attend to
    all keys (finite garbage) instead of producing NaN; callers zero those rows by availability."""

    def __init__(self, d: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.h, self.dropout = n_heads, dropout
        self.q, self.kv, self.out = nn.Linear(d, d), nn.Linear(d, 2 * d), nn.Linear(d, d)

    def forward(self, x: torch.Tensor, ctx: torch.Tensor | None = None,
                key_mask: torch.Tensor | None = None) -> torch.Tensor:
        ctx = x if ctx is None else ctx
        B, Nq, D = x.shape
        q = self.q(x).view(B, Nq, self.h, D // self.h).transpose(1, 2)          # (B, h, Nq, d)
        k, v = self.kv(ctx).view(B, ctx.shape[1], 2, self.h, D // self.h).permute(2, 0, 3, 1, 4)  # (B, h, Nk, d)
        mask = None
        if key_mask is not None:
            key_mask = key_mask | ~key_mask.any(dim=1, keepdim=True)            # (B, Nk)
            mask = key_mask[:, None, None, :]                                   # (B, 1, 1, Nk)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.out(y.transpose(1, 2).reshape(B, Nq, D))                    # (B, Nq, D)


class MLP(nn.Module):
    def __init__(self, d: int, dropout: float, mult: int = 4) -> None:
        super().__init__()
        self.fc, self.proj, self.drop = nn.Linear(d, mult * d), nn.Linear(mult * d, d), nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    """Pre-norm transformer block (self-attention + MLP)."""

    def __init__(self, d: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(d), Attention(d, n_heads, dropout)
        self.ln2, self.mlp = nn.LayerNorm(d), MLP(d, dropout)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), key_mask=key_mask)
        return x + self.mlp(self.ln2(x))


class PMA(nn.Module):
    """Pooling by multi-head attention: M learned seeds attend over a token set -> (B, M, D)."""

    def __init__(self, d: int, n_heads: int, n_seeds: int = 1) -> None:
        super().__init__()
        self.seeds = nn.Parameter(torch.randn(1, n_seeds, d) * 0.02)
        self.ln, self.attn = nn.LayerNorm(d), Attention(d, n_heads, 0.0)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.attn(self.seeds.expand(x.shape[0], -1, -1), self.ln(x), key_mask)  # (B, M, D)


class FiLM(nn.Module):
    """x * (1 + dgamma) + beta from covariates; zero-initialised, so the identity at start."""

    def __init__(self, n_cov: int, d: int) -> None:
        super().__init__()
        self.lin = nn.Linear(n_cov, 2 * d)
        nn.init.zeros_(self.lin.weight)
        nn.init.zeros_(self.lin.bias)

    def forward(self, x: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
        dgamma, beta = self.lin(cov).unsqueeze(1).chunk(2, dim=-1)               # (B, 1, D) each
        return x * (1 + dgamma) + beta


# ----------------------------------------------------------------------------- EEG tokenizers

class ConvTokenizer(nn.Module):
    """Channel-mixing temporal convolution (ShallowConvNet/Conformer style): temporal filters, a
    spatial filter across all channels, squared, log-average-pooled (band power), projected."""

    def __init__(self, cfg: FusionConfig, inp: ModelInputs) -> None:
        super().__init__()
        f, k = cfg.conv_filters, max(3, int(round(cfg.conv_kernel_s * inp.sfreq)) | 1)
        self.pool = max(2, int(round(cfg.conv_pool_s * inp.sfreq)))
        self.stride = max(1, self.pool // 2)
        self.temporal = nn.Conv2d(1, f, (1, k), padding=(0, k // 2))
        self.spatial = nn.Conv2d(f, f, (inp.n_channels, 1), bias=False)
        self.proj = nn.Linear(f, cfg.d_model)
        self.n_tokens = (inp.n_samples - self.pool) // self.stride + 1
        self.pos = nn.Parameter(torch.randn(1, self.n_tokens, cfg.d_model) * 0.02)

    def forward(self, eeg: torch.Tensor) -> torch.Tensor:
        x = self.spatial(self.temporal(eeg.unsqueeze(1)))                       # (B, F, 1, T)
        x = F.avg_pool2d(x.square(), (1, self.pool), (1, self.stride))           # (B, F, 1, T')
        x = torch.log(x.clamp_min(1e-6)).squeeze(2).transpose(1, 2)              # (B, T', F)
        return self.proj(x) + self.pos                                          # (B, T', D)


class PatchTokenizer(nn.Module):
    """Per-channel patches with channel and time embeddings (LaBraM style, channels kept)."""

    def __init__(self, cfg: FusionConfig, inp: ModelInputs) -> None:
        super().__init__()
        self.patch = max(2, int(round(cfg.patch_s * inp.sfreq)))
        self.n_patches = inp.n_samples // self.patch
        self.proj = nn.Sequential(nn.Linear(self.patch, cfg.d_model), nn.GELU(), nn.Linear(cfg.d_model, cfg.d_model))
        self.ch_emb = nn.Parameter(torch.randn(1, inp.n_channels, 1, cfg.d_model) * 0.02)
        self.t_emb = nn.Parameter(torch.randn(1, 1, self.n_patches, cfg.d_model) * 0.02)

    def forward(self, eeg: torch.Tensor) -> torch.Tensor:
        B, C, _ = eeg.shape
        x = eeg[:, :, : self.n_patches * self.patch].reshape(B, C, self.n_patches, self.patch)  # (B, C, P, L)
        x = self.proj(x) + self.ch_emb + self.t_emb                              # (B, C, P, D)
        return x.reshape(B, C * self.n_patches, -1)                              # (B, C*P, D)


# ----------------------------------------------------------------------------- modality encoders

class VideoEncoder(nn.Module):
    """Cached video tokens (B, N, 1+T, Dv) -> (B, N*(1+T), D); optional GRU over frame tokens."""

    def __init__(self, m: ModalityConfig, cfg: FusionConfig) -> None:
        super().__init__()
        t1, dv = m.shape("tokens")
        self.proj = nn.Linear(dv, cfg.d_model)  # tokens arrive z-scored per dimension (fusion.normalise)
        self.tok_pos = nn.Parameter(torch.randn(1, 1, t1, cfg.d_model) * 0.02)
        self.seg_pos = nn.Parameter(torch.randn(1, m.n_items, 1, cfg.d_model) * 0.02)
        self.gru = nn.GRU(cfg.d_model, cfg.d_model, batch_first=True) if cfg.video_mixer == "gru" and t1 > 2 else None

    def forward(self, x: dict[str, torch.Tensor], mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tok = x["tokens"].float()
        B, N, T1, _ = tok.shape
        h = self.proj(tok) + self.tok_pos                               # (B, N, 1+T, D)
        if self.gru is not None:                                                 # mix frame tokens in time
            frames = h[:, :, 1:].reshape(B * N, T1 - 1, -1)
            h = torch.cat([h[:, :, :1], h[:, :, 1:] + self.gru(frames)[0].view(B, N, T1 - 1, -1)], dim=2)
        h = h + self.seg_pos[:, :N]
        return h.reshape(B, N * T1, -1), mask.repeat_interleave(T1, dim=1)       # (B, N*(1+T), D)


class AudioEncoder(nn.Module):
    """Audio frame features (B, N, K) -> (B, N, D)."""

    def __init__(self, m: ModalityConfig, cfg: FusionConfig) -> None:
        super().__init__()
        (k,) = m.shape("frames")
        self.mlp = nn.Sequential(nn.Linear(k, cfg.d_model), nn.GELU(), nn.Linear(cfg.d_model, cfg.d_model))
        self.pos = nn.Parameter(torch.randn(1, m.n_items, cfg.d_model) * 0.02)

    def forward(self, x: dict[str, torch.Tensor], mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mlp(x["frames"]) + self.pos[:, : x["frames"].shape[1]], mask  # (B, N, D)


class ECGEncoder(nn.Module):
    """Heartbeat windows (B, N, L) + per-beat RR/HR/quality (B, N, 3) -> (B, N, D) via a 1-D CNN."""

    def __init__(self, m: ModalityConfig, cfg: FusionConfig) -> None:
        super().__init__()
        self.cnn = nn.Sequential(nn.Conv1d(1, 16, 7, stride=2, padding=3), nn.GELU(),
                                 nn.Conv1d(16, 32, 5, stride=2, padding=2), nn.GELU(), nn.AdaptiveAvgPool1d(1))
        self.proj = nn.Linear(32 + m.shape("feats")[0], cfg.d_model)
        self.pos = nn.Parameter(torch.randn(1, m.n_items, cfg.d_model) * 0.02)

    def forward(self, x: dict[str, torch.Tensor], mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B, N, L = x["beats"].shape
        shape = self.cnn(x["beats"].reshape(B * N, 1, L)).view(B, N, 32)        # (B, N, 32)
        return self.proj(torch.cat([shape, x["feats"]], dim=-1)) + self.pos[:, :N], mask  # (B, N, D)


ENCODERS = {"video": VideoEncoder, "audio": AudioEncoder, "ecg": ECGEncoder}


class GatedCrossAttention(nn.Module):
    """Flamingo-style: x += tanh(a) * avail * xattn(LN x, ctx); x += tanh(b) * avail * FFN(LN x)."""

    def __init__(self, d: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.ln_q, self.ln_kv, self.attn = nn.LayerNorm(d), nn.LayerNorm(d), Attention(d, n_heads, dropout)
        self.ln_ff, self.mlp = nn.LayerNorm(d), MLP(d, dropout)
        self.attn_gate, self.ff_gate = nn.Parameter(torch.zeros(1)), nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, ctx: torch.Tensor, mask: torch.Tensor, avail: torch.Tensor) -> torch.Tensor:
        a = avail.to(x.dtype)[:, None, None]                                    # (B, 1, 1)
        x = x + torch.tanh(self.attn_gate) * a * self.attn(self.ln_q(x), self.ln_kv(ctx), mask)
        return x + torch.tanh(self.ff_gate) * a * self.mlp(self.ln_ff(x))       # (B, Nq, D)


# ----------------------------------------------------------------------------- the model

class FusionModel(nn.Module):
    """EEG branch -> fusion (gated-xattn | late | prefix | eeg-only) -> PMA -> heads.

    ``forward(eeg, inputs, masks, covariates)``: eeg (B, C, T) normalised; inputs[name] the arrays of
    one modality (see the encoders); masks[name] (B, N) bool availability per item; covariates (B, K).
    A modality absent from ``inputs`` is treated as fully masked. Returns a dict with ``logits``
    (B, n_outputs), ``eeg_emb`` (B, D), ``fused`` (B, D), ``summaries``/``avail`` per modality and,
    with a teacher, ``teacher_pred`` (B, Dt).
    """

    def __init__(self, cfg: FusionConfig, inputs: ModelInputs) -> None:
        super().__init__()
        self.cfg, self.inputs = cfg, inputs
        d, h, p = cfg.d_model, cfg.n_heads, cfg.dropout
        self.tokenizer = (ConvTokenizer if cfg.eeg_tokenizer == "conv" else PatchTokenizer)(cfg, inputs)
        self.film = FiLM(inputs.n_covariates, d) if inputs.n_covariates else None
        self.eeg_blocks = nn.ModuleList(Block(d, h, p) for _ in range(cfg.eeg_layers))
        self.eeg_pool = PMA(d, h)
        mods = inputs.modalities if cfg.fusion != "eeg-only" else ()
        self.mod_names = [m.name for m in mods]
        self.encoders = nn.ModuleDict({m.name: ENCODERS[m.kind](m, cfg) for m in mods})
        self.compress = nn.ModuleDict({m.name: PMA(d, h, cfg.latents) for m in mods}) if cfg.latents else None
        self.blocks = nn.ModuleList(Block(d, h, p) for _ in range(cfg.fusion_layers))
        if cfg.fusion == "gated-xattn":
            self.xattn = nn.ModuleList(nn.ModuleDict({n: GatedCrossAttention(d, h, p) for n in self.mod_names})
                                       for _ in range(cfg.fusion_layers))
        if cfg.fusion == "late":
            self.mod_pool = nn.ModuleDict({n: PMA(d, h) for n in self.mod_names})
            self.late_mlp = nn.Sequential(nn.Linear(d * (1 + len(mods)) + len(mods), 2 * d), nn.GELU(), nn.Linear(2 * d, d))
        self.ln_f, self.pool = nn.LayerNorm(d), PMA(d, h)
        self.head = nn.Linear(d, inputs.n_outputs)
        self.siglip_eeg = nn.Linear(d, d)
        self.siglip_mod = nn.ModuleDict({n: nn.Linear(d, d) for n in self.mod_names})
        self.siglip_t = nn.Parameter(torch.tensor(math.log(10.0)))
        self.siglip_b = nn.Parameter(torch.tensor(-10.0))
        self.recon = nn.ModuleDict({n: nn.Linear(d, d) for n in self.mod_names})
        self.teacher_head = nn.Linear(d, inputs.teacher_dim) if inputs.teacher_dim else None

    def _run(self, block: nn.Module, *args: torch.Tensor | None) -> torch.Tensor:
        if self.cfg.grad_checkpoint and self.training:
            return checkpoint(block, *args, use_reentrant=False)
        return block(*args)

    def encode_eeg(self, eeg: torch.Tensor, covariates: torch.Tensor | None) -> torch.Tensor:
        """EEG tokens after the tokenizer, FiLM and the EEG-only blocks: (B, Ne, D)."""
        x = self.tokenizer(eeg)                                                  # (B, Ne, D)
        if self.film is not None and covariates is not None and covariates.shape[1]:
            x = self.film(x, covariates)
        for blk in self.eeg_blocks:
            x = self._run(blk, x)
        return x

    def encode_modalities(self, inputs: dict, masks: dict, batch: int,
                          device: torch.device) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """name -> (tokens (B, N, D), key mask (B, N), availability (B,)) for every configured modality."""
        out = {}
        for m in self.inputs.modalities:
            if m.name not in self.encoders:
                continue
            if m.name not in inputs:  # absent input: one zero token, masked
                tok = torch.zeros(batch, 1, self.cfg.d_model, device=device)
                out[m.name] = (tok, torch.zeros(batch, 1, dtype=torch.bool, device=device),
                               torch.zeros(batch, dtype=torch.bool, device=device))
                continue
            tok, km = self.encoders[m.name](inputs[m.name], masks[m.name])
            avail = km.any(dim=1)                                                # (B,)
            if self.compress is not None:
                tok, km = self.compress[m.name](tok, km), avail[:, None].expand(-1, self.cfg.latents)
            out[m.name] = (tok, km, avail)
        return out

    def forward(self, eeg: torch.Tensor, inputs: dict | None = None, masks: dict | None = None,
                covariates: torch.Tensor | None = None) -> dict:
        inputs, masks = inputs or {}, masks or {}
        x = self.encode_eeg(eeg, covariates)                                     # (B, Ne, D)
        eeg_emb = self.eeg_pool(x).squeeze(1)                                    # (B, D)
        mods = self.encode_modalities(inputs, masks, eeg.shape[0], eeg.device)
        key_mask = None
        if self.cfg.fusion == "prefix" and mods:                                 # one self-attention over all
            ones = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
            key_mask = torch.cat([ones] + [km for _, km, _ in mods.values()], dim=1)
            x = torch.cat([x] + [t for t, _, _ in mods.values()], dim=1)         # (B, Ne+sum N, D)
        for i, blk in enumerate(self.blocks):
            x = self._run(blk, x, key_mask)
            if self.cfg.fusion == "gated-xattn":
                for name, (tok, km, avail) in mods.items():
                    x = self._run(self.xattn[i][name], x, tok, km, avail)
        fused = self.pool(self.ln_f(x), key_mask).squeeze(1)                    # (B, D)
        summaries = {n: _masked_mean(t, km) for n, (t, km, _) in mods.items()}  # (B, D) each
        avail = {n: a for n, (_, _, a) in mods.items()}
        if self.cfg.fusion == "late":
            parts = [fused]
            for n, (tok, km, a) in mods.items():
                parts.append(self.mod_pool[n](tok, km).squeeze(1) * a[:, None].to(tok.dtype))
            parts.append(torch.stack([avail[n].to(fused.dtype) for n in mods], dim=1))
            fused = fused + self.late_mlp(torch.cat(parts, dim=1))
        out = {"logits": self.head(fused), "eeg_emb": eeg_emb, "fused": fused, "summaries": summaries,
               "avail": avail}
        if self.teacher_head is not None:
            out["teacher_pred"] = self.teacher_head(eeg_emb)
        return out

    def gate_values(self) -> dict[str, float]:
        """tanh of every gate, keyed "layer<i>/<modality>/attn|ffn" (for the gate plots)."""
        if self.cfg.fusion != "gated-xattn":
            return {}
        return {f"layer{i}/{n}/{kind}": float(torch.tanh(getattr(g, f"{kind}_gate")).item())
                for i, layer in enumerate(self.xattn) for n, g in layer.items() for kind in ("attn", "ff")}


def _masked_mean(tok: torch.Tensor, km: torch.Tensor) -> torch.Tensor:
    """Mean over valid tokens (B, N, D) -> (B, D); zeros where nothing is valid."""
    w = km.to(tok.dtype).unsqueeze(-1)                                           # (B, N, 1)
    return (tok * w).sum(1) / w.sum(1).clamp_min(1.0)
