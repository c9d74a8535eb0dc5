"""Demo face video: a soft-edged face ellipse that moves, blinks and talks, encoded as H.264 MP4.

Why: the demo has no pretrained video weights, so the valence information in the video must
survive a randomly initialised encoder. It is a global gain and warm colour shift of the face
region (linear in pixels, so patch embeddings and mean pooling keep it). Subjects differ in skin,
hair and background colour (nuisance). Blinks and mouth opening follow the same recording-clock
events as the EEG blink artefacts and the voiced syllables, so misaligned offsets are visible.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.synth.speech import SpeechPlan

FPS = 25
SIZE = 64
FACE_LOG_GAIN_PER_Z = 0.2   # ln(face brightness gain) per unit of the video valence factor
FACE_WARM_PER_Z = (8.0, 0.0, -8.0)  # RGB shift of the face per unit of the factor
_CHUNK = 128  # frames rendered at once (bounded memory, vectorised)
# Rows/columns the eyes and mouth can reach given the motion range in render_frames.
_EYE_BOX = (slice(22, 38), slice(14, 50))
_MOUTH_BOX = (slice(36, 54), slice(20, 44))


@dataclass(frozen=True)
class FaceTraits:
    """Per-subject look (nuisance)."""

    skin_rgb: tuple[float, float, float]
    hair_rgb: tuple[float, float, float]
    background_rgb: tuple[float, float, float]


def eye_openness(t: np.ndarray, blinks_s: np.ndarray) -> np.ndarray:
    """1 = open; each blink closes the eyes for ~150 ms starting at its time."""
    out = np.ones_like(t)
    for tb in blinks_s:
        out = np.minimum(out, 1.0 - np.exp(-0.5 * ((t - tb - 0.075) / 0.035) ** 2))
    return np.clip(out, 0.0, 1.0)


def mouth_openness(t: np.ndarray, plan: SpeechPlan) -> np.ndarray:
    """0 = closed; opens over each voiced syllable (raised sine), closed in pauses."""
    out = np.zeros_like(t)
    for s, e in plan.voiced_segments():
        u = (t - s) / (e - s)
        inside = (u >= 0) & (u < 1)
        shape = np.clip(np.sin(np.pi * np.clip(u, 0, 1)), 0, 1) ** 0.7
        out = np.where(inside, np.maximum(out, shape), out)
    return out


def _ellipse(xx, yy, cx, cy, ax, ay, edge_px: float = 0.8) -> np.ndarray:
    """Soft mask (1 inside, 0 outside) with an edge about ``edge_px`` pixels wide."""
    return _soft(((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2, np.minimum(ax, ay) / edge_px)


def _soft(r2: np.ndarray, sharpness) -> np.ndarray:
    """Logistic edge at normalised radius 1, computed in place on float32 (the render hot spot)."""
    z = np.sqrt(r2, dtype=np.float32)
    z -= 1.0
    z *= sharpness
    np.minimum(z, 60.0, out=z)
    np.exp(z, out=z)
    z += 1.0
    return np.reciprocal(z, out=z)


def _paint(img: np.ndarray, mask: np.ndarray, rgb) -> None:
    """Blend ``rgb`` into ``img`` in place where ``mask`` is 1."""
    img += mask[..., None] * (np.asarray(rgb, dtype=np.float32) - img)


def render_frames(times_s: np.ndarray, traits: FaceTraits, z_video: float, blinks_s: np.ndarray,
                  plan: SpeechPlan, motion_phase: np.ndarray) -> np.ndarray:
    """RGB uint8 frames (F, SIZE, SIZE, 3) at the given recording times."""
    t = np.asarray(times_s, dtype=np.float32)[:, None, None]
    motion_phase = np.asarray(motion_phase, dtype=np.float32)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    cx = SIZE / 2 + 3.0 * np.sin(2 * np.pi * 0.13 * t + motion_phase[0])
    cy = SIZE / 2 + 2.0 + 1.5 * np.sin(2 * np.pi * 0.21 * t + motion_phase[1])
    scale = 1.0 + 0.04 * np.sin(2 * np.pi * 0.07 * t + motion_phase[2])
    bg = np.asarray(traits.background_rgb, np.float32)
    img = np.empty((len(times_s), SIZE, SIZE, 3), np.float32)  # C order: broadcast+astype would not be
    img[:] = bg * (0.85 + 0.3 * yy[..., None] / SIZE)
    _paint(img, _ellipse(xx, yy, cx, cy - 5 * scale, 19 * scale, 20 * scale), traits.hair_rgb)
    r2 = ((xx - cx) / (16 * scale)) ** 2 + ((yy - cy) / (21 * scale)) ** 2
    face = _soft(r2, 16 * scale / 0.8)
    skin = np.asarray(traits.skin_rgb, np.float32) * np.float32(np.exp(FACE_LOG_GAIN_PER_Z * z_video))
    skin = skin + np.asarray(FACE_WARM_PER_Z, np.float32) * np.float32(z_video)
    shaded = skin * (1.0 - 0.18 * np.clip(r2, 0, 1))[..., None]
    img += face[..., None] * (shaded - img)
    eyes = eye_openness(t[:, 0, 0], blinks_s).astype(np.float32)[:, None, None]
    mouth = mouth_openness(t[:, 0, 0], plan).astype(np.float32)[:, None, None]
    ey, ex = _EYE_BOX  # eyes and mouth never leave these boxes: paint only there
    for side in (-1.0, 1.0):
        eye = _ellipse(xx[ey, ex], yy[ey, ex], cx + side * 6.5 * scale, cy - 4 * scale, 3.2 * scale,
                       np.maximum(2.0 * eyes * scale, 0.25), edge_px=0.6)
        _paint(img[:, ey, ex], eye, (35, 30, 30))
    my, mx = _MOUTH_BOX
    mouth_mask = _ellipse(xx[my, mx], yy[my, mx], cx, cy + 10 * scale, 5.5 * scale, (0.6 + 3.0 * mouth) * scale, 0.6)
    _paint(img[:, my, mx], mouth_mask, (110, 35, 45))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def write_mp4(path: Path, times_s: np.ndarray, render) -> int:
    """Encode frames rendered in chunks by ``render(times) -> (F, H, W, 3) uint8`` as H.264
    yuv420p at FPS. Single-threaded x264 so the bytes are reproducible. Returns frame count."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS, options={"crf": "20", "preset": "veryfast",
                                                                   "threads": "1", "tune": "stillimage"})
        stream.width = SIZE
        stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        for i in range(0, len(times_s), _CHUNK):
            for frame in render(times_s[i:i + _CHUNK]):
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return len(times_s)
