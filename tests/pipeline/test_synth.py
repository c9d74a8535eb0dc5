"""The demo dataset generator: determinism, real formats, valid manifest, truth and planted signal."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import welch

from pipeline.errors import ConfigError
from pipeline.manifest import load_manifest
from pipeline.signal_readers import read_raw
from pipeline.synth.demo import generate_demo, labels_from_factors, load_truth
from pipeline.synth.face import FACE_LOG_GAIN_PER_Z, FaceTraits, render_frames
from pipeline.synth.physio import EEG_CHANNELS, PhysioTraits, eeg_signal
from pipeline.synth.speech import plan_speech

ARGS = dict(subjects=2, trials=2, duration_s=6.0, seed=3)
PAIRS = (("AF3", "AF4"), ("F3", "F4"), ("F7", "F8"), ("FC5", "FC6"))


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate_demo(out, **ARGS)
    return out


@pytest.fixture(scope="module")
def manifest(demo):
    return load_manifest(demo / "data_manifest.yaml")


@pytest.fixture(scope="module")
def truth(demo):
    return load_truth(demo)


def test_same_arguments_give_identical_bytes(demo, tmp_path):
    generate_demo(tmp_path, **ARGS)
    first, second = _digest(demo), _digest(tmp_path)
    assert len(first) == 4 * 4 + 2  # four files per recording + manifest + truth
    assert first == second


def test_fewer_subjects_reproduce_shared_recordings(demo, tmp_path):
    generate_demo(tmp_path, subjects=1, trials=1, duration_s=ARGS["duration_s"], seed=ARGS["seed"])
    for rel in ("eeg/s01_t01.edf", "ecg/s01_t01.edf", "video/s01_t01.mp4", "audio/s01_t01.wav"):
        assert (tmp_path / rel).read_bytes() == (demo / rel).read_bytes(), rel


def test_other_seed_changes_content(demo, tmp_path):
    generate_demo(tmp_path, **{**ARGS, "seed": 4})
    assert (tmp_path / "eeg/s01_t01.edf").read_bytes() != (demo / "eeg/s01_t01.edf").read_bytes()


def test_manifest_validates_and_describes_every_recording(demo, manifest, truth):
    assert manifest.cache == (demo / "cache.zarr").resolve()
    assert set(manifest.label_scales) == {"valence", "arousal"}
    assert manifest.label_scales["valence"].resolved_threshold == 5
    ids = [r.id for r in manifest.recordings]
    assert ids == ["s01_t01", "s01_t02", "s02_t01", "s02_t02"]
    assert manifest.subjects() == ["s01", "s02"]
    for rec in manifest.recordings:
        assert rec.dataset == "demo" and rec.trial == rec.id.split("_")[1]
        assert set(rec.streams) == {"eeg", "ecg", "video", "audio"}
        assert {s.kind for s in rec.streams.values()} == {"eeg", "ecg", "video", "audio"}
        assert rec.streams["eeg"].channels == EEG_CHANNELS and rec.streams["ecg"].channels == ("ECG",)
        assert (rec.streams["eeg"].format, rec.streams["video"].format, rec.streams["audio"].format) == ("edf", "mp4", "wav")
        assert rec.labels == truth["recordings"][rec.id]["labels"]
        assert set(rec.covariates) == {"age", "sex"} and rec.covariates["sex"] in (0.0, 1.0)
        for name, stream in rec.streams.items():
            assert stream.offset_s == truth["recordings"][rec.id]["offsets_s"][name]
    late = [r for r in manifest.recordings if r.trial == "t02"]
    assert all(0 < r.streams["video"].offset_s <= 0.5 and 0 < r.streams["audio"].offset_s <= 0.5 for r in late)


def test_labels_follow_the_documented_formula(truth):
    for rec in truth["recordings"].values():
        assert rec["labels"] == labels_from_factors(rec["factors"])
        assert 1 <= rec["labels"]["valence"] <= 9 and 1 <= rec["labels"]["arousal"] <= 9
    assert "sqrt(2)" in truth["label_formulas"]["valence"]


def test_eeg_edf_reads_back_as_eeg(manifest):
    stream = manifest.recordings[0].streams["eeg"]
    raw = read_raw(stream)
    assert raw.ch_names == list(EEG_CHANNELS)
    assert raw.info["sfreq"] == 128.0
    assert set(raw.get_channel_types()) == {"eeg"}
    assert raw.n_times == 6 * 128
    assert raw.info["meas_date"].year == 2020
    std_uv = raw.get_data().std(axis=1) * 1e6
    assert np.all((std_uv > 2) & (std_uv < 200))


def test_ecg_r_peaks_match_truth(manifest, truth):
    for rec in manifest.recordings:
        raw = read_raw(rec.streams["ecg"])
        assert raw.ch_names == ["ECG"] and raw.info["sfreq"] == 256.0
        x = raw.get_data()[0] * 1e3  # mV
        peaks = np.asarray(truth["recordings"][rec.id]["r_peaks_s"])
        assert len(peaks) >= 4
        for t in peaks:
            i = int(round(t * 256))
            lo = max(i - 25, 0)
            assert abs(lo + int(np.argmax(x[lo:i + 26])) - i) <= 1
        # no other beat: samples far from every true peak stay well below R amplitude
        far = np.min(np.abs(np.arange(len(x))[:, None] / 256 - peaks[None]), axis=1) > 0.05
        assert x[far].max() < 0.6 < x[~far].max()
        hr = 60 / np.mean(np.diff(peaks))
        assert hr == pytest.approx(truth["recordings"][rec.id]["heart_rate_bpm"], rel=0.05)


def test_video_is_h264_25fps_with_expected_frames(manifest, truth):
    import av

    for rec in manifest.recordings:
        with av.open(str(rec.streams["video"].path)) as c:
            v = c.streams.video[0]
            assert v.codec_context.name == "h264" and v.average_rate == 25
            assert (v.codec_context.width, v.codec_context.height) == (64, 64)
            assert v.codec_context.pix_fmt == "yuv420p"
            n = sum(1 for _ in c.decode(video=0))
        expected = round((6.0 - rec.streams["video"].offset_s) * 25)
        assert n == expected == truth["recordings"][rec.id]["video_frames"]


def test_audio_is_16k_mono_pcm16_with_matching_f0_truth(manifest, truth):
    import soundfile as sf

    for rec in manifest.recordings:
        info = sf.info(str(rec.streams["audio"].path))
        assert (info.samplerate, info.channels, info.subtype, info.format) == (16000, 1, "PCM_16", "WAV")
        offset = rec.streams["audio"].offset_s
        assert info.frames == round((6.0 - offset) * 16000)
        f0 = truth["recordings"][rec.id]["f0"]
        assert f0["t0_s"] == offset and f0["times_s"][1] == pytest.approx(offset + 0.01)
        voiced = np.asarray(f0["voiced"], bool)
        assert 0.2 < voiced.mean() < 0.8
        hz = np.asarray(f0["f0_hz"])
        assert np.all(hz[~voiced] == 0) and np.all((hz[voiced] >= 70) & (hz[voiced] <= 350))


def test_praat_recovers_true_f0_and_voicing(manifest, truth):
    import parselmouth
    import soundfile as sf

    rec = manifest.recordings[1]  # has a non-zero audio offset
    y, sr = sf.read(str(rec.streams["audio"].path))
    pitch = parselmouth.Sound(y, sr).to_pitch(time_step=0.01, pitch_floor=60, pitch_ceiling=400)
    f0 = truth["recordings"][rec.id]["f0"]
    file_times = np.asarray(f0["times_s"]) - rec.streams["audio"].offset_s
    est = np.nan_to_num(np.array([pitch.get_value_at_time(t) for t in file_times]))
    true, voiced = np.asarray(f0["f0_hz"]), np.asarray(f0["voiced"], bool)
    both = voiced & (est > 0)
    assert both.sum() / voiced.sum() > 0.9
    assert ((est > 0) & ~voiced).sum() / (~voiced).sum() < 0.15
    assert np.median(np.abs(est[both] - true[both]) / true[both]) < 0.02


def _frontal_log_ratio(data_uv: np.ndarray, sfreq: float = 128.0) -> float:
    f, p = welch(data_uv, sfreq, nperseg=256)
    alpha = p[:, (f >= 7.5) & (f <= 12.5)].sum(axis=1)
    idx = {c: i for i, c in enumerate(EEG_CHANNELS)}
    return float(np.mean([np.log(alpha[idx[r]] / alpha[idx[left]]) for left, r in PAIRS]))


def test_alpha_asymmetry_is_visible_in_every_4s_window(manifest, truth):
    for rec in manifest.recordings:
        data = read_raw(rec.streams["eeg"]).get_data() * 1e6
        planted = truth["recordings"][rec.id]["alpha_log_power_ratio_right_left"]
        for start in (0, 256):  # 4 s windows at 2 s hop
            assert _frontal_log_ratio(data[:, start:start + 512]) == pytest.approx(planted, abs=0.4)


def test_eeg_factors_move_their_band_powers():
    traits = PhysioTraits(eeg_gain=1.3, alpha_hz=9.2, asym_bias=0.05, hr_bpm=70)
    asym, beta_alpha = [], []
    for z in (-1.5, 0.0, 1.5):
        x = eeg_signal(np.random.default_rng(0), traits, z_valence=z, z_arousal=z, duration_s=8.0,
                       blinks_s=np.array([2.0]))
        asym.append(_frontal_log_ratio(x))
        f, p = welch(x, 128.0, nperseg=256)
        beta_alpha.append(np.log(p[:, (f >= 15) & (f <= 30)].sum() / p[:, (f >= 7.5) & (f <= 12.5)].sum()))
    assert np.all(np.diff(asym) > 1.0)  # planted: +1.0 ln power ratio per unit z (noise shrinks it a bit)
    assert np.all(np.diff(beta_alpha) > 1.0)


def test_face_brightness_follows_video_factor(manifest, truth):
    import av

    for rec in manifest.recordings:
        with av.open(str(rec.streams["video"].path)) as c:
            centre = np.mean([f.to_ndarray(format="rgb24")[34:40, 28:36].astype(float).mean() for f in c.decode(video=0)])
        skin = np.mean(truth["subjects"][rec.subject]["face"]["skin_rgb"])
        z = truth["recordings"][rec.id]["factors"]["video_valence"]
        assert np.log(centre / skin) == pytest.approx(FACE_LOG_GAIN_PER_Z * z, abs=0.06)


def test_rendered_frame_brightness_is_monotone_in_factor():
    face = FaceTraits(skin_rgb=(160.0, 125.0, 100.0), hair_rgb=(40.0, 30.0, 20.0), background_rgb=(110.0, 110.0, 110.0))
    plan = plan_speech(np.random.default_rng(0), 150.0, 4.0)
    times = np.arange(50) / 25
    means = [render_frames(times, face, z, np.array([1.0]), plan, np.zeros(3)).astype(float).mean()
             for z in (-2.0, -1.0, 0.0, 1.0, 2.0)]
    assert np.all(np.diff(means) > 3.0)


@pytest.mark.parametrize("kwargs", [dict(subjects=0), dict(trials=0), dict(duration_s=2.0), dict(duration_s=6.5)])
def test_bad_arguments_raise_config_error(tmp_path, kwargs):
    with pytest.raises(ConfigError):
        generate_demo(tmp_path, **kwargs)
