"""--face-crop: detection on the real face video, the box track's smoothing and fallbacks, the crop
the encoder sees, the track in the cache entry, and the fingerprint rules."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import av
import numpy as np
import pytest

from pipeline.errors import ConfigError
from pipeline.extractors.video_extractor import VivitExtractor
from pipeline.fingerprint import fingerprint
from pipeline.run import plan_identity
from pipeline.video.face_crop import face_converter, plan_face_track
from pipeline.video.face_track import FOUND, FULL, HELD, face_track, fill_gaps, smooth_boxes, square_crops
from pipeline.video.extract import plan_stream
from pipeline.video.preprocess import PreprocessSpec
from pipeline.video.video_config import VideoConfig
from tests.pipeline.video_helpers import make_stream, write_video

CROP = dict(random_init=True, device="cpu", face_crop=True)


# ------------------------------------------------------------------ the box track (pure numpy)
def test_moving_median_removes_a_wrong_box_and_keeps_missing_rows_missing() -> None:
    raw = np.tile([100.0, 100.0, 200.0, 200.0], (7, 1))
    raw[3] = [400, 400, 480, 480]                  # one false detection elsewhere
    raw[5] = np.nan                                # a miss
    out = smooth_boxes(raw, window=5)
    np.testing.assert_allclose(out[3], [100, 100, 200, 200])
    assert np.isnan(out[5]).all() and not np.isnan(out[[0, 1, 2, 4, 6]]).any()


def test_gaps_hold_the_last_good_box_then_fall_back_to_the_full_frame() -> None:
    times = np.arange(8) * 0.5
    boxes = np.full((8, 4), np.nan)
    boxes[1] = [10, 20, 30, 40]
    out, flags = fill_gaps(times, boxes, hold_s=1.0)
    assert flags.tolist() == [FULL, FOUND, HELD, HELD, FULL, FULL, FULL, FULL]  # held 1.0 s after 0.5 s
    np.testing.assert_array_equal(out[2:4], [[10, 20, 30, 40]] * 2)


def test_crops_are_squares_with_margin_inside_the_frame() -> None:
    boxes = np.array([[100, 100, 200, 200], [0, 0, 50, 50], [np.nan] * 4], dtype=float)
    flags = np.array([FOUND, FOUND, FULL], dtype=np.int8)
    crops = square_crops(boxes, flags, margin=0.5, width=640, height=360)
    np.testing.assert_array_equal(crops[0], [50, 50, 250, 250])      # side 100 * (1 + 2 * 0.5), same centre
    np.testing.assert_array_equal(crops[1], [0, 0, 100, 100])        # shifted inside, not padded
    np.testing.assert_array_equal(crops[2], [140, 0, 500, 360])      # full frame: the centre square


def test_frames_between_detections_get_interpolated_boxes() -> None:
    raw = np.array([[0, 0, 100, 100], [100, 0, 200, 100]], dtype=float)
    crops, flags = face_track(np.array([0.0, 1.0]), raw, np.array([0.0, 0.5, 1.0]), window=1, hold_s=1.0,
                              margin=0.0, width=1000, height=1000)
    np.testing.assert_array_equal(crops[1], [50, 0, 150, 100])
    assert (flags == FOUND).all()


# ------------------------------------------------------------------ the real face video
# Checked by eye (docs/img/face_crop.png): at 1.32 s (frame 33) the crop box is (948, 668, 1095, 815)
# around the face of the boy in the blue hoodie; this rectangle inside it is his face (eyes to chin).
FACE_AT_FRAME_33 = (985, 700, 1055, 790)


def test_real_face_video_finds_a_face_in_95_percent_of_sampled_frames(real_data: Path) -> None:
    rec, stream = make_stream(real_data / "video" / "face_1080p.mp4")
    cfg = VideoConfig(**CROP)
    index, _, frame_idx = plan_stream(stream, cfg, 32)
    track = plan_face_track(index, frame_idx, cfg)
    assert np.mean(track.flags == FOUND) >= 0.95
    box = track.boxes[list(track.ranks).index(33)]
    x0, y0, x1, y1 = FACE_AT_FRAME_33
    assert box[0] <= x0 and box[1] <= y0 and box[2] >= x1 and box[3] >= y1, box
    assert box[2] - box[0] < 3 * (x1 - x0)          # a face crop, not most of the frame
    sides = track.boxes[:, 2] - track.boxes[:, 0]
    assert (sides == track.boxes[:, 3] - track.boxes[:, 1]).all() and sides.max() < 1080 / 3


def test_the_encoder_sees_the_crop_from_the_full_resolution_frame(real_data: Path) -> None:
    rec, stream = make_stream(real_data / "video" / "face_1080p.mp4")
    cfg = VideoConfig(**CROP)
    index, _, frame_idx = plan_stream(stream, cfg, 8)
    track = plan_face_track(index, frame_idx, cfg)
    spec = PreprocessSpec.from_dict({"crop_size": {"height": 112, "width": 112}}, 112)
    convert = face_converter(index, track, spec)
    with av.open(str(stream.path)) as c:  # the first sampled frame (frames are decoded in order)
        frame = next(f for i, f in enumerate(c.decode(video=0)) if i == track.ranks[0])
        full = frame.to_ndarray(format="rgb24")
        out = convert(frame)
    x0, y0, x1, y1 = track.boxes[0]
    assert out.shape == (112, 112, 3)
    import cv2
    expected = cv2.resize(full[y0:y1, x0:x1], (112, 112), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(out, expected)


# ------------------------------------------------------------------ no face: hold, then the full frame
def _face_then_noise(tmp_path: Path) -> Path:
    """3 s at 25 fps, 64x64: the demo's synthetic face for 1 s, then uniform noise."""
    from pipeline.synth.demo import generate_demo

    manifest = generate_demo(tmp_path / "demo", subjects=1, trials=1, duration_s=4.0, seed=3)
    demo_mp4, = sorted((manifest.parent / "video").glob("*.mp4"))
    with av.open(str(demo_mp4)) as c:
        faces = [f.to_ndarray(format="rgb24") for _, f in zip(range(25), c.decode(video=0))]
    noise = list(np.random.default_rng(0).integers(0, 256, (50, 64, 64, 3), dtype=np.uint8))
    return write_video(tmp_path / "face_then_noise.mp4", 75, w=64, h=64, images=faces + noise)


def test_frames_without_a_face_hold_the_last_box_then_get_the_full_frame(tmp_path: Path) -> None:
    rec, stream = make_stream(_face_then_noise(tmp_path))
    cfg = VideoConfig(**CROP, face_every=1, face_hold_s=0.5)
    index, _, frame_idx = plan_stream(stream, cfg, 16)
    track = plan_face_track(index, frame_idx, cfg)
    times = index.times_s[track.ranks]
    found = track.flags == FOUND
    assert found[times < 0.9].mean() > 0.8 and not found[times > 1.2].any()
    last_found = times[found].max()
    held = track.flags == HELD
    assert held.any() and (times[held] <= last_found + 0.5 + 1e-9).all()
    full = track.flags == FULL
    assert full.any() and (times[full] > last_found + 0.5).all()
    last_box = track.boxes[found][-1]
    assert (track.boxes[held & (times > last_found)] == last_box).all()
    np.testing.assert_array_equal(track.boxes[full][0], [0, 0, 64, 64])


def test_noise_only_video_is_extracted_on_the_full_frame_and_flagged(tmp_path: Path) -> None:
    noise = list(np.random.default_rng(1).integers(0, 256, (50, 64, 64, 3), dtype=np.uint8))
    rec, stream = make_stream(write_video(tmp_path / "noise.mp4", 50, w=64, h=64, images=noise))
    out = VivitExtractor(VideoConfig(**CROP, frames=8)).extract(rec, stream)
    assert (out.arrays["face_fallback"] == FULL).all()
    assert out.arrays["face_box"].shape == (1, 8, 4) and (out.arrays["face_box"] == [0, 0, 64, 64]).all()
    assert out.dims["face_box"] == ("time", "frame", "corner") and out.units["face_box"] == "px"


# ------------------------------------------------------------------ config and fingerprint
def test_face_crop_makes_a_new_group_and_leaves_the_default_identity_alone() -> None:
    base = dict(random_init=True, precision="fp32")
    plain = plan_identity(VivitExtractor(VideoConfig(**base)))
    assert not any(k.startswith("face_") for k in plain["config"])       # so the default fingerprint is kept
    assert "opencv-python-headless" not in plain["libraries"]
    cropped = plan_identity(VivitExtractor(VideoConfig(**base, face_crop=True)))
    assert cropped["config"]["face_crop"] is True and cropped["config"]["face_margin"] == 0.25
    assert "opencv-python-headless" in cropped["libraries"]
    wider = plan_identity(VivitExtractor(VideoConfig(**base, face_crop=True, face_margin=0.5)))
    assert len({fingerprint(plain), fingerprint(cropped), fingerprint(wider)}) == 3


@pytest.mark.parametrize("bad", [dict(face_margin=0.5), dict(face_crop=True, face_margin=-0.1),
                                 dict(face_crop=True, face_detector="yolo"), dict(face_crop=True, face_every=0)])
def test_bad_face_options_are_config_errors(bad: dict) -> None:
    with pytest.raises(ConfigError, match="face_"):
        VideoConfig(**bad)


# ------------------------------------------------------------------ end to end
def test_cli_extract_video_face_crop_stores_a_readable_track(tmp_path: Path) -> None:
    from pipeline import open_cache
    from pipeline.synth.demo import generate_demo
    from tests.test_cli import run_cli

    manifest = generate_demo(tmp_path / "demo", subjects=1, trials=1, duration_s=4.0, seed=1)
    args = ("extract", "video", "--manifest", str(manifest), "--random-init", "--frames", "8", "--device", "cpu",
            "--scheduler", "sync", "--json")
    code, out = run_cli(*args)
    assert code == 0, out
    plain = json.loads(out)["group"]
    code, out = run_cli(*args, "--face-crop", "--face-margin", "0.1")
    assert code == 0, out
    cropped = json.loads(out)["group"]
    assert cropped.startswith("video/vivit-") and cropped != plain
    view = open_cache(manifest)
    group = view.current("video")
    assert group.path == cropped and group.identity["config"]["face_margin"] == 0.1
    (rec_id, stream), = view.entries(group)
    ds = view.dataset("video", rec_id, stream)
    assert ds["face_box"].dims == ("time", "frame", "corner") and list(ds["corner"].values) == ["x0", "y0", "x1", "y1"]
    assert ds["face_time"].attrs["units"] == "s" and ds.sizes["frame"] == 8
    assert (ds["face_fallback"].values == FOUND).mean() > 0.8           # the synthetic face is found
    from pipeline.staleness import explain_rebuild
    assert explain_rebuild(view.cache, group) == []     # OpenCV, used only with --face-crop, is no reason
    side = ds["face_box"].values[..., 2] - ds["face_box"].values[..., 0]
    assert (side < 64).mean() > 0.8                         # face crops (face side ~41 px + 10 % margins)


def test_rotated_video_boxes_are_in_displayed_pixels(tmp_path: Path) -> None:
    """A phone video stored 64 wide x 32 tall, shown rotated a quarter turn: 32 wide x 64 tall."""
    noise = list(np.random.default_rng(2).integers(0, 256, (25, 32, 64, 3), dtype=np.uint8))
    rec, stream = make_stream(write_video(tmp_path / "rotated.mp4", 25, w=64, h=32, images=noise, rotation=90))
    cfg = VideoConfig(**CROP)
    index, _, frame_idx = plan_stream(stream, cfg, 4)
    track = plan_face_track(index, frame_idx, cfg)
    assert (track.flags == FULL).all()
    np.testing.assert_array_equal(track.boxes[0], [0, 16, 32, 48])   # the displayed frame's centre square
    spec = PreprocessSpec.from_dict({"crop_size": {"height": 16, "width": 16}}, 16)
    convert = face_converter(index, track, spec)
    with av.open(str(stream.path)) as c:
        frame = next(f for i, f in enumerate(c.decode(video=0)) if i == track.ranks[0])
        assert convert(frame).shape == (16, 16, 3)


def test_threads_detect_with_their_own_cascade() -> None:
    """--workers N runs recordings in threads; each gets its own cascade object, and the same boxes."""
    from concurrent.futures import ThreadPoolExecutor

    from pipeline.video.faces import FaceDetector, _cascade

    image = np.zeros((120, 160), np.uint8)
    both = threading.Barrier(2)                     # the two calls run on two threads at once

    def cascade_id(_: int) -> int:
        both.wait(timeout=10)
        return id(_cascade("haar_alt"))

    with ThreadPoolExecutor(2) as pool:
        ids = set(pool.map(cascade_id, range(2)))
        boxes = list(pool.map(lambda _: FaceDetector().detect(image), range(4)))
    assert len(ids) == 2 and all(b.shape == (0, 4) for b in boxes)
