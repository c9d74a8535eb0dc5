"""The encoder's own image preprocessing, read from its ``preprocessor_config.json``.

The hub processors resize the short side, centre-crop and normalise frame by frame in Python.
Here the same recipe is split so that the expensive part runs where it is cheapest: the resize
happens inside the decoder (``VideoFrame.reformat``, straight from YUV at source resolution),
the crop is a numpy slice, and rescale + normalise fold into one per-channel affine map applied
to a whole batch at once. Resampling is FFmpeg's bilinear, not PIL's, so pixels can differ from
the hub processor by a grey level or so; the recipe (sizes, mean, std, offset) is identical.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import ConfigError

_log = logging.getLogger(__name__)


def _hw(value: Any, key: str) -> tuple[int, int] | int:
    """A processor size entry as (height, width), or an int for {"shortest_edge": n}."""
    if isinstance(value, int):
        return (value, value)
    if isinstance(value, dict):
        if "shortest_edge" in value:
            return int(value["shortest_edge"])
        if "height" in value and "width" in value:
            return (int(value["height"]), int(value["width"]))
    raise ConfigError(f"preprocessor_config.json: unsupported '{key}' value {value!r}. "
                      "Use {'shortest_edge': N} or {'height': H, 'width': W}.")


@dataclass(frozen=True)
class PreprocessSpec:
    """Resize/crop geometry and the per-channel affine map ``x_uint8 * scale + bias``.

    resize:  short-edge length (int) or an exact (height, width).
    crop:    (height, width) of the centre crop, the model's input size.
    scale, bias: float32 arrays of shape (3,), RGB.
    """

    resize: int | tuple[int, int]
    crop: tuple[int, int]
    scale: np.ndarray
    bias: np.ndarray

    @classmethod
    def from_dict(cls, cfg: dict[str, Any], image_size: int) -> "PreprocessSpec":
        """Build from processor-config keys; the crop must equal the model's ``image_size``."""
        crop = _hw(cfg.get("crop_size", image_size), "crop_size") if cfg.get("do_center_crop", True) else None
        resize = _hw(cfg.get("size", image_size), "size") if cfg.get("do_resize", True) else image_size
        if crop is None:
            crop = resize if isinstance(resize, tuple) else (image_size, image_size)
        if isinstance(crop, int):
            crop = (crop, crop)
        if crop != (image_size, image_size):
            raise ConfigError(f"preprocessor crop size {crop} does not match the model's image_size {image_size}. "
                              "Fix preprocessor_config.json in the weights folder.")
        rescale = float(cfg.get("rescale_factor", 1 / 255)) if cfg.get("do_rescale", True) else 1.0
        shift = 1.0 if cfg.get("offset", False) else 0.0  # ViViT maps to [-1, 1] before normalising
        mean = np.asarray(cfg.get("image_mean", [0.0] * 3), dtype=np.float64)
        std = np.asarray(cfg.get("image_std", [1.0] * 3), dtype=np.float64)
        if not cfg.get("do_normalize", True):
            mean, std = np.zeros(3), np.ones(3)
        scale = (rescale / std).astype(np.float32)
        bias = ((-shift - mean) / std).astype(np.float32)
        return cls(resize=resize, crop=crop, scale=scale, bias=bias)

    def resize_to(self, height: int, width: int) -> tuple[int, int]:
        """Resized (height, width) of a displayed frame, as the hub processors compute it."""
        if isinstance(self.resize, tuple):
            return self.resize
        short, long = min(height, width), max(height, width)
        new_long = int(self.resize * long / short)
        size = (self.resize, new_long) if height <= width else (new_long, self.resize)
        # never smaller than the crop, so the crop always fits (tiny or very elongated videos)
        return max(size[0], self.crop[0]), max(size[1], self.crop[1])

    def crop_box(self, height: int, width: int) -> tuple[slice, slice]:
        """Centre-crop slices for a resized frame."""
        top, left = (height - self.crop[0]) // 2, (width - self.crop[1]) // 2
        return slice(top, top + self.crop[0]), slice(left, left + self.crop[1])

    def normalise(self, clips: np.ndarray) -> np.ndarray:
        """uint8 ``(..., H, W, 3)`` -> float32 ``(..., 3, H, W)``, the encoders' channel-first input."""
        x = clips.astype(np.float32) * self.scale + self.bias
        return np.ascontiguousarray(np.moveaxis(x, -1, -3))


def load_processor_config(folder: Path, defaults: dict[str, Any]) -> dict[str, Any]:
    """The folder's preprocessor_config.json, or the encoder's defaults (with a warning) when absent."""
    path = folder / "preprocessor_config.json"
    if not path.exists():
        _log.warning("%s: no preprocessor_config.json; using the encoder's default preprocessing", folder)
        return dict(defaults)
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: not valid JSON ({e}). Fix or delete the file.") from e
