"""Video test helpers: tiny lossless videos whose grey level encodes the frame index, tiny
saved models, and the stream/config shorthands the video tests share."""

from __future__ import annotations

import fractions
import json
from pathlib import Path

import av
import numpy as np
import torch

from pipeline.manifest import Recording, Stream
from pipeline.video.preprocess import PreprocessSpec

GREY0, GREY_STEP = 10, 3


def write_video(path: Path, n: int, fps: int = 25, w: int = 32, h: int = 32, pts_ms: list[int] | None = None,
                rotation: int | None = None, images: list[np.ndarray] | None = None,
                pix_fmt: str = "yuv420p") -> Path:
    """Lossless H.264 MP4; frame i is flat grey GREY0 + GREY_STEP * i unless ``images`` is given."""
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
    stream.options = {"qp": "0"}
    if pts_ms is not None:
        stream.codec_context.time_base = fractions.Fraction(1, 1000)
    if rotation is not None:
        stream.set_display_rotation(rotation)
    for i in range(n):
        img = images[i] if images is not None else np.full((h, w, 3), GREY0 + GREY_STEP * i, np.uint8)
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        if pts_ms is not None:
            frame.pts, frame.time_base = pts_ms[i], fractions.Fraction(1, 1000)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def grey_index(clip: np.ndarray) -> list[int]:
    """Frame index encoded in each flat grey frame of a clip (n, H, W, 3)."""
    return [int(round((float(f.mean()) - GREY0) / GREY_STEP)) for f in clip]


def spec32() -> PreprocessSpec:
    """No-op geometry for 32x32 sources and an identity-ish normalisation."""
    return PreprocessSpec.from_dict({"size": {"shortest_edge": 32}, "crop_size": {"height": 32, "width": 32},
                                     "rescale_factor": 1.0, "image_mean": [0, 0, 0], "image_std": [1, 1, 1]}, 32)


def make_stream(path: Path, offset_s: float = 0.0) -> tuple[Recording, Stream]:
    stream = Stream(name="face", kind="video", path=path, format="mp4", offset_s=offset_s)
    return Recording(id="r1", dataset="demo", subject="s1", streams={"face": stream}), stream


TINY = dict(random_init=True, frames=8, device="cpu", batch_size=2)



def save_tiny_vivit(folder: Path) -> Path:
    """A tiny ViViT written with save_pretrained, as a user's local weights folder would be."""
    from transformers import VivitConfig, VivitModel

    torch.manual_seed(0)
    config = VivitConfig(num_frames=8, image_size=32, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64)
    VivitModel(config, add_pooling_layer=False).save_pretrained(folder)
    return write_tiny_processor(folder)


def write_tiny_processor(folder: Path) -> Path:
    """The 32-pixel ViViT processor config of the tiny test models."""
    proc = {"size": {"shortest_edge": 32}, "crop_size": {"height": 32, "width": 32}, "rescale_factor": 1 / 127.5,
            "offset": True, "image_mean": [0.5] * 3, "image_std": [0.5] * 3}
    (folder / "preprocessor_config.json").write_text(json.dumps(proc))
    return folder




def save_tiny_vivit_classifier(folder: Path, num_labels: int = 5) -> Path:
    """A tiny VivitForVideoClassification with named classes, as a local Kinetics checkpoint would be."""
    from transformers import VivitConfig, VivitForVideoClassification

    torch.manual_seed(0)
    config = VivitConfig(num_frames=8, image_size=32, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64, num_labels=num_labels,
                         id2label={i: f"action {i}" for i in range(num_labels)})
    VivitForVideoClassification(config).save_pretrained(folder)
    return write_tiny_processor(folder)
