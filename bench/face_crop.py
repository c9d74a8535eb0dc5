"""Face crop cost against the encoder, and the detector comparison that chose the default detector.

(a) Cost (default): on the real 1080p face video, per minute of video, the seconds of
    - detection + track (``plan_face_track``: the small grayscale decode pass and the cascade),
    - cropping: the encoder's pixel decode with face crops minus the same decode with its usual
      resize + centre crop (the crop path converts full-resolution frames),
    - the encoder's own forward passes (ViViT-B, random init, real size) on the decoded clips,
    and the ratio (detection + cropping) / encoder. Target: <= 0.20. All from the same run.
(b) ``--compare``: every detector on the sampled frames (32 per 2 s segment, no subsampling, no
    smoothing) of the real video and of demo videos: share of frames with a face, median
    frame-to-frame jitter of the box centre and side relative to the side, seconds per frame.

Usage:  EEGAVI_DATA=/work/shared/data .venv/bin/python -m bench.face_crop [--compare] [--loop N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.video_extract import _looped, _video_path
from pipeline.manifest import Stream
from pipeline.video.decode import decode_frames
from pipeline.video.encoders import load_encoder
from pipeline.video.extract import pixel_batches, plan_stream
from pipeline.video.face_crop import detection_frame, face_converter, plan_face_track
from pipeline.video.faces import DETECTORS, FaceDetector, detect_track
from pipeline.video.video_config import VideoConfig


def _stream(path: Path) -> Stream:
    return Stream(name="face", kind="video", path=path, format="mp4")


def cost(path: Path, batch_size: int = 2) -> dict[str, float]:
    """Seconds per minute of video: detection + track, cropping, encoder; and their ratio."""
    cfg = VideoConfig(random_init=True, size="base", device="cpu", face_crop=True, batch_size=batch_size)
    encoder = load_encoder("vivit", cfg)
    index, intervals, frame_idx = plan_stream(_stream(path), cfg, encoder.layout.frames)
    minutes = float(intervals[-1, 1] - intervals[0, 0]) / 60
    t0 = time.perf_counter()
    track = plan_face_track(index, frame_idx, cfg)
    detect_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    plain = list(pixel_batches(index, frame_idx, encoder.preprocess, batch_size))
    plain_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    cropped = list(pixel_batches(index, frame_idx, encoder.preprocess, batch_size,
                                 face_converter(index, track, encoder.preprocess)))
    crop_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for pixels in cropped:
        encoder.forward(pixels)
    encoder_s = time.perf_counter() - t0
    assert len(plain) == len(cropped)
    per_min = {"detect_track": detect_s, "crop_extra": max(crop_s - plain_s, 0.0), "decode_plain": plain_s,
               "decode_face": crop_s, "encoder": encoder_s}
    out = {k: v / minutes for k, v in per_min.items()}
    out["ratio"] = (out["detect_track"] + out["crop_extra"]) / out["encoder"]
    out["face_found"] = float(np.mean(track.flags == 0))
    return out


def compare(paths: list[Path], frames: int = 32) -> list[dict[str, object]]:
    """Each detector on each video's sampled frames: detection rate, box jitter, seconds per frame."""
    rows = []
    for path in paths:
        index, _, frame_idx = plan_stream(_stream(path), VideoConfig(random_init=True), frames)
        ranks = np.unique(frame_idx)
        grays = [g for _, (g, _, _) in decode_frames(index, ranks, lambda f: detection_frame(f, 540))]
        for name in DETECTORS:
            t0 = time.perf_counter()
            raw = detect_track(FaceDetector(name=name), grays)
            seconds = (time.perf_counter() - t0) / len(grays)
            rows.append({"video": path.name, "detector": name, "frames": len(grays), **_stability(raw),
                         "s_per_frame": seconds})
    return rows


def _stability(raw: np.ndarray) -> dict[str, float]:
    found = ~np.isnan(raw[:, 0])
    centre, side = (raw[:, :2] + raw[:, 2:]) / 2, raw[:, 2] - raw[:, 0]
    both = found[1:] & found[:-1]
    jitter_c = np.linalg.norm(np.diff(centre, axis=0), axis=1)[both] / side[1:][both]
    jitter_s = np.abs(np.diff(side))[both] / side[1:][both]
    return {"found": float(found.mean()),
            "jitter_centre": float(np.median(jitter_c)) if both.any() else float("nan"),
            "jitter_side": float(np.median(jitter_s)) if both.any() else float("nan")}


def _demo_videos(folder: Path, count: int) -> list[Path]:
    from pipeline.synth.demo import generate_demo

    manifest = generate_demo(folder, subjects=count, trials=1, duration_s=8.0, seed=0)
    return sorted((manifest.parent / "video").glob("*.mp4"))[:count]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--compare", action="store_true", help="compare the detectors instead of timing the crop")
    ap.add_argument("--loop", type=int, default=1, help="play the real video this many times (longer timing)")
    ap.add_argument("--demo-videos", type=int, default=2)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = _video_path() if args.loop == 1 else _looped(_video_path(), args.loop, Path(tmp) / "looped.mp4")
        if args.compare:
            print("| video | detector | frames | face found | jitter centre / side | jitter side / side | s per frame |")
            print("|---|---|---|---|---|---|---|")
            for r in compare([path, *_demo_videos(Path(tmp) / "demo", args.demo_videos)]):
                print(f"| {r['video']} | {r['detector']} | {r['frames']} | {r['found']:.1%} | {r['jitter_centre']:.3f} "
                      f"| {r['jitter_side']:.3f} | {r['s_per_frame']:.4f} |")
            return 0
        r = cost(path)
    print("| per minute of video | seconds |\n|---|---|")
    for key in ("detect_track", "decode_plain", "decode_face", "crop_extra", "encoder"):
        print(f"| {key} | {r[key]:.1f} |")
    print(f"\n(detect_track + crop_extra) / encoder = {r['ratio']:.3f} (target <= 0.20); "
          f"face found in {r['face_found']:.1%} of sampled frames")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
