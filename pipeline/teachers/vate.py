"""VATE's contrastive heads, rebuilt from the published checkpoint.

VATE (repository ``FrancescoAgnelli3/VATE``, MIT) maps each modality's frozen-encoder summary to a
shared 100-d space with one MLP per modality: ``Linear(in, 200) -> ReLU -> Linear(200, 200) ->
ReLU -> Linear(200, 100)``, output L2-normalised. Its checkpoint is a plain state dict
(``embedding_video.0.weight`` (200, 400), ..., ``logit_scale``) that loads with
``torch.load(..., weights_only=True)``, so no code from the checkpoint ever runs.
Video input: ViViT-B/16x2 Kinetics-400 logits (400); audio input: HuBERT-base last layer mean (768).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.errors import WeightsError

# part -> (state-dict prefix, input width); the text head (BERT pooled, 768) has no cached input yet
HEADS: dict[str, tuple[str, int]] = {"video": ("embedding_video", 400), "audio": ("embedding_audio", 768)}
HIDDEN = 200
OUT_DIM = 100
SOURCE = "FrancescoAgnelli3/VATE output/VATE/best_model_contrastive.pt"


def load_state(path: Path) -> dict:
    """The checkpoint's tensors, loaded safely (``weights_only=True``); WeightsError naming the file."""
    import torch

    if not path.is_file():
        raise WeightsError(f"{path}: VATE checkpoint not found. Download best_model_contrastive.pt from {SOURCE} "
                           "and pass --checkpoint PATH.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated zip, a pickle with code in it, not a torch file at all
        raise WeightsError(f"{path}: not a loadable VATE state dict ({type(e).__name__}: {e}). "
                           f"Download best_model_contrastive.pt again from {SOURCE}.") from e
    if not isinstance(state, dict):
        raise WeightsError(f"{path}: expected a state dict, got {type(state).__name__}. Pass VATE's "
                           "best_model_contrastive.pt.")
    return state


def build_head(state: dict, part: str, path: Path):
    """One modality's MLP (``torch.nn.Sequential``, eval mode) with the checkpoint's weights."""
    import torch

    prefix, width = HEADS[part]
    head = torch.nn.Sequential(torch.nn.Linear(width, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, HIDDEN),
                               torch.nn.ReLU(), torch.nn.Linear(HIDDEN, OUT_DIM))
    own = {k[len(prefix) + 1:]: v for k, v in state.items() if k.startswith(prefix + ".")}
    try:
        head.load_state_dict(own, strict=True)
    except RuntimeError as e:  # missing keys or wrong shapes: another checkpoint
        raise WeightsError(f"{path}: the {part} head '{prefix}.*' does not fit Linear({width}, {HIDDEN}) -> ReLU -> "
                           f"Linear({HIDDEN}, {HIDDEN}) -> ReLU -> Linear({HIDDEN}, {OUT_DIM}) ({e}). "
                           "Pass VATE's best_model_contrastive.pt.") from None
    return head.eval()


def load_heads(path: Path) -> dict:
    """part -> head, for every part in ``HEADS``."""
    state = load_state(path)
    return {part: build_head(state, part, path) for part in HEADS}


def embed(head, x: np.ndarray) -> np.ndarray:
    """(N, in) float -> (N, 100) float32 unit-norm embeddings (float32 math, as VATE trained)."""
    import torch

    with torch.inference_mode():
        y = head(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
        return torch.nn.functional.normalize(y, dim=-1).numpy()
