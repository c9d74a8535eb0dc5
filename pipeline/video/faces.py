"""Face detection on video frames with OpenCV's bundled Haar cascades (no weights fetched at run time).

Why OpenCV's cascades: their trained weights ship inside the ``opencv-python-headless`` wheel
(``cv2.data.haarcascades``), they run on a CPU without torch, and they were the best candidate
measured on the real face video and the demo (BENCHMARKS.md, "Face crop"). MTCNN
(``facenet-pytorch``) was ruled out: it imports torchvision, which this project cannot install
without pulling another torch; OpenCV 5 wheels no longer carry the cascades, so the pin is ``<5``.

A detector sees a grayscale frame downscaled to ``detect_height`` rows (faster, and the cascade's
smallest window then covers smaller faces relative to the frame), and returns boxes in pixels of
the source frame. With several faces in view, ``pick_face`` keeps the one nearest the previous
box (the largest at the start), so the crop follows one person instead of jumping between faces.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import ConfigError, ExtractionError

# detector name -> cascade file in cv2.data.haarcascades
DETECTORS: dict[str, str] = {
    "haar": "haarcascade_frontalface_default.xml",
    "haar_alt": "haarcascade_frontalface_alt.xml",
    "haar_alt2": "haarcascade_frontalface_alt2.xml",
}
DETECTOR_LIBRARY = "opencv-python-headless"  # the distribution whose version changes the boxes
_INSTALL = "pip install 'opencv-python-headless>=4.10,<5'"
_LOCAL = threading.local()  # one cascade per thread: OpenCV does not promise a shared one is thread-safe


def _cascade(name: str):
    """The thread's loaded cascade; ExtractionError with an install hint when unavailable."""
    cascades = _LOCAL.__dict__.setdefault("cascades", {})
    if name not in cascades:
        cascades[name] = _load_cascade(name)
    return cascades[name]


def _load_cascade(name: str):
    """Read a cascade file shipped with OpenCV (never downloaded)."""
    if name not in DETECTORS:
        raise ConfigError(f"unknown face detector '{name}'. Valid detectors: {', '.join(DETECTORS)}.")
    try:
        import cv2
    except ImportError as e:
        raise ExtractionError(f"face detection needs OpenCV, which is not installed. {_INSTALL}") from e
    path = Path(getattr(getattr(cv2, "data", None), "haarcascades", "")) / DETECTORS[name]
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise ExtractionError(f"{path}: OpenCV's face cascade is missing (OpenCV {cv2.__version__} does not ship "
                              f"it). {_INSTALL}")
    return cascade


@dataclass(frozen=True)
class FaceDetector:
    """A Haar cascade run on a downscaled grayscale frame.

    detect_height: rows of the frame the cascade sees (the source is downscaled to it, never up).
    min_face:      smallest face side, as a fraction of the detection frame's height.
    min_neighbors: overlapping cascade hits a box needs (higher: fewer false faces, more misses).
    """

    name: str = "haar_alt"
    detect_height: int = 540
    min_face: float = 0.04
    min_neighbors: int = 6

    def detect(self, gray: np.ndarray) -> np.ndarray:
        """Faces in a grayscale frame ``(H, W)`` uint8 as boxes ``(n, 4)`` float64 x0, y0, x1, y1 in its pixels."""
        import cv2

        scale = min(1.0, self.detect_height / gray.shape[0])
        small = gray if scale == 1.0 else cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        side = max(12, int(self.min_face * small.shape[0]))
        found = _cascade(self.name).detectMultiScale(small, scaleFactor=1.1, minNeighbors=self.min_neighbors, minSize=(side, side))
        if len(found) == 0:
            return np.zeros((0, 4), dtype=np.float64)
        xywh = np.asarray(found, dtype=np.float64) / scale
        return np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)


def pick_face(boxes: np.ndarray, previous: np.ndarray | None) -> np.ndarray | None:
    """One box ``(4,)`` of ``boxes (n, 4)``: nearest centre to ``previous``, else the largest; None if n = 0."""
    if len(boxes) == 0:
        return None
    if previous is None:
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        return boxes[int(np.argmax(areas))]
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    prev_centre = (previous[:2] + previous[2:]) / 2
    return boxes[int(np.argmin(np.linalg.norm(centres - prev_centre, axis=1)))]


def detect_track(detector: FaceDetector, frames: list[np.ndarray]) -> np.ndarray:
    """Raw face boxes ``(n, 4)`` for grayscale frames in time order; NaN rows where none was found.

    Once a face is found, the next frame is searched first in a window of three times its box
    around it (about 1/20 of a 1080p frame's pixels, so detection costs ~10x less), and in the
    whole frame only when the window has no face.
    """
    out = np.full((len(frames), 4), np.nan)
    previous: np.ndarray | None = None
    for i, gray in enumerate(frames):
        box = None
        if previous is not None:
            x0, y0, x1, y1 = _window(previous, gray.shape)
            box = pick_face(detector.detect(gray[y0:y1, x0:x1]) + [x0, y0, x0, y0], previous)
        if box is None:
            box = pick_face(detector.detect(gray), previous)
        if box is not None:
            out[i] = previous = box
    return out


def _window(box: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Integer search window: ``box`` grown by its side on every side, clipped to the frame."""
    side = max(box[2] - box[0], box[3] - box[1])
    height, width = shape[:2]
    x0, y0 = int(max(0, box[0] - side)), int(max(0, box[1] - side))
    return x0, y0, int(min(width, box[2] + side)), int(min(height, box[3] + side))
