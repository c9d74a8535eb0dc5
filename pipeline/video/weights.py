"""The video encoders' weights: ``pipeline.weights`` applied to a VideoConfig and an encoder's spec.

Nothing here loads a model or imports transformers, so the runner and stage two can ask for the
identity cheaply.
"""

from __future__ import annotations

from typing import Any

from pipeline.video.video_config import VideoConfig, encoder_spec
from pipeline.weights import WeightsSource, find_weights, hash_file, source_identity

__all__ = ["WeightsSource", "hash_file", "resolve_weights", "weights_identity"]


def resolve_weights(encoder: str, cfg: VideoConfig) -> WeightsSource:
    """Find the weights without loading them; raise WeightsError naming --weights and the hub id."""
    spec = encoder_spec(encoder)
    return find_weights(f"video encoder '{encoder}'", spec.hub_id, cfg.weights, cfg.random_init)


def weights_identity(encoder: str, cfg: VideoConfig) -> dict[str, Any]:
    """JSON-able identity of the weights, for the fingerprint and the cache group attributes."""
    recipe = {"encoder": encoder, "size": cfg.size, "seed": cfg.seed}
    return source_identity(resolve_weights(encoder, cfg), recipe)
