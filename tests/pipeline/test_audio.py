"""Audio stage: pitch, voice quality, energy, activity and the "audio" extractor on synthetic
signals with known truth, the bad inputs, and a real-speech GPE floor (EEGAVI_DATA)."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pipeline.audio.voice import FRAME_NAMES, frame_features, track_pitch
from pipeline.audio.activity import segment_intervals
from pipeline.errors import ConfigError, ExtractionError
from pipeline.extractors.audio_extractor import AudioConfig, AudioExtractor, segment_feature_names
from pipeline.fingerprint import fingerprint, group_identity
from pipeline.manifest import Recording, Stream

SR = 16000
COL = {n: i for i, n in enumerate(FRAME_NAMES)}


# ---------------------------------------------------------------- synthetic voice


def pulse_times(f0_of_t, start: float, end: float) -> np.ndarray:
    """Glottal pulse instants (s) where the phase integral of the F0 contour crosses integers."""
    t = np.arange(start, end, 1e-5)
    phase = np.cumsum(f0_of_t(t)) * 1e-5
    k = np.arange(1, int(phase[-1]))
    return np.interp(k, phase, t)


def render(pulses: np.ndarray, amps: np.ndarray | float, dur: float, sr: int = SR) -> np.ndarray:
    """Sum of formant-filtered pulses at exact (fractional) times: a vowel-like voiced signal."""
    amps = np.broadcast_to(np.asarray(amps, dtype=float), pulses.shape)
    y = np.zeros(int(dur * sr) + 1)
    n0 = np.ceil(pulses * sr).astype(int)
    offs = np.arange(int(0.025 * sr))
    idx = n0[:, None] + offs[None, :]                              # (P, L)
    t = idx / sr - pulses[:, None]
    h = np.exp(-t / 0.004) * np.sin(2 * np.pi * 500 * t) + 0.5 * np.exp(-t / 0.002) * np.sin(2 * np.pi * 1500 * t)
    ok = idx < len(y)
    np.add.at(y, idx[ok], (amps[:, None] * h)[ok])
    return 0.3 * y / np.max(np.abs(y))


def glide_signal() -> tuple[np.ndarray, callable, list[tuple[float, float]], list[tuple[float, float]]]:
    """3 s: 110->220 Hz glide, silence, white noise, 180 Hz with 5 Hz vibrato (+-3 %)."""
    glide = lambda t: 110.0 * 2 ** (t / 1.0)  # noqa: E731
    vib = lambda t: 180.0 * (1 + 0.03 * np.sin(2 * np.pi * 5 * t))  # noqa: E731
    truth = lambda t: np.where(t < 1.0, glide(t), vib(t))  # noqa: E731
    y = render(np.r_[pulse_times(glide, 0.0, 1.0), pulse_times(vib, 2.0, 3.0)], 1.0, 3.0)
    rng = np.random.default_rng(0)
    y[int(1.5 * SR):int(2.0 * SR)] = rng.normal(0, 0.05, int(0.5 * SR))
    return y, truth, [(0.0, 1.0), (2.0, 3.0)], [(1.0, 2.0)]


def interior(times: np.ndarray, spans: list[tuple[float, float]], margin: float = 0.04) -> np.ndarray:
    return np.any([(times >= a + margin) & (times <= b - margin) for a, b in spans], axis=0)


def make_stream(path: Path, fmt: str = "wav", offset_s: float = 0.0) -> tuple[Recording, Stream]:
    stream = Stream(name="voice", kind="audio", path=path, format=fmt, offset_s=offset_s)
    return Recording(id="r1", dataset="t", subject="s1", streams={"voice": stream}), stream


def extract(path: Path, fmt: str = "wav", offset_s: float = 0.0, **cfg):
    rec, stream = make_stream(path, fmt, offset_s)
    return AudioExtractor(AudioConfig(**cfg)).extract(rec, stream)


# ---------------------------------------------------------------- pitch


def test_track_pitch_follows_contour_and_voicing() -> None:
    y, truth, voiced_spans, unvoiced_spans = glide_signal()
    t, f0, v = track_pitch(y, SR)
    assert np.allclose(np.diff(t), 0.01) and t[0] == 0.0 and len(t) == (len(y) - 1) // 160 + 1
    iv, iu = interior(t, voiced_spans), interior(t, unvoiced_spans)
    assert v[iv].all() and not v[iu].any()
    rel = np.abs(f0[iv] - truth(t[iv])) / truth(t[iv])
    assert rel.max() < 0.01
    assert np.all(f0[~v] == 0)


@pytest.mark.parametrize("sr", [8000, 11025, 22050, 44100])
def test_track_pitch_tone_at_other_rates(sr: int) -> None:
    t = np.arange(sr) / sr
    y = 0.5 * np.sin(2 * np.pi * 200 * t) + 0.2 * np.sin(2 * np.pi * 400 * t)
    times, f0, v = track_pitch(y, sr)
    inner = (times > 0.05) & (times < 0.95)
    assert v[inner].all() and np.abs(f0[inner] / 200 - 1).max() < 0.01


# ---------------------------------------------------------------- energy, jitter, shimmer


def test_rms_matches_hand_computation() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(0, 0.1, SR) * np.linspace(0, 1, SR)
    ff = frame_features(y, SR)
    padded = np.r_[np.zeros(200), y, np.zeros(400)]
    for k in (0, 1, 37, 99):
        seg = padded[k * 160:k * 160 + 400]          # 25 ms window centred at k * 10 ms
        rms = np.sqrt(np.mean(seg ** 2))
        assert ff.values[k, COL["rms"]] == pytest.approx(rms, rel=1e-9)
        assert ff.values[k, COL["rms_db"]] == pytest.approx(20 * np.log10(rms), abs=1e-6)
    assert np.all(np.isfinite(ff.values))


def _voiced_mean(y: np.ndarray, name: str) -> float:
    ff = frame_features(y, SR)
    inner = ff.voiced & interior(ff.times_s, [(0.0, 1.5)], 0.1)
    return float(np.mean(ff.values[inner, COL[name]]))


def _praat_global(y: np.ndarray) -> tuple[float, float]:
    """Praat's own whole-signal jitter (local) and shimmer (local), for reference."""
    import parselmouth
    from parselmouth.praat import call

    snd = parselmouth.Sound(y, SR)
    pp = call([snd, snd.to_pitch_ac(pitch_floor=60.0)], "To PointProcess (cc)")
    return (call(pp, "Get jitter (local)", 0, 0, 1e-4, 0.02, 1.3),
            call([snd, pp], "Get shimmer (local)", 0, 0, 1e-4, 0.02, 1.3, 1.6))


def test_planted_jitter_and_shimmer_are_recovered() -> None:
    """Random period / amplitude perturbations at 125 Hz. Praat's pulse finder smooths pulse
    times a little, so jitter reads ~15 % low in Praat itself; we match Praat closely and the
    planted value loosely."""
    rng = np.random.default_rng(3)
    t0 = 1 / 125
    steady = 0.005 + np.arange(185) * t0
    periods = t0 * (1 + 0.02 * rng.standard_normal(185))
    jittered = 0.005 + np.r_[0, np.cumsum(periods[:-1])]
    amps = 1 + 0.1 * rng.standard_normal(185)
    planted_jitter = np.mean(np.abs(np.diff(np.diff(jittered)))) / np.mean(np.diff(jittered))
    planted_shimmer = np.mean(np.abs(np.diff(amps))) / np.mean(amps)
    y_steady, y_jit, y_shim = render(steady, 1.0, 1.5), render(jittered, 1.0, 1.5), render(steady, amps, 1.5)
    assert _voiced_mean(y_steady, "jitter_local") < 0.002 and _voiced_mean(y_steady, "shimmer_local") < 0.005
    jitter = _voiced_mean(y_jit, "jitter_local")
    assert jitter == pytest.approx(planted_jitter, rel=0.25)
    assert jitter == pytest.approx(_praat_global(y_jit)[0], rel=0.05)
    shimmer = _voiced_mean(y_shim, "shimmer_local")
    assert shimmer == pytest.approx(planted_shimmer, rel=0.25)
    assert shimmer == pytest.approx(_praat_global(y_shim)[1], rel=0.1)


def test_voice_features_are_zero_when_unvoiced_and_finite() -> None:
    y, *_ = glide_signal()
    ff = frame_features(y, SR)
    assert np.all(np.isfinite(ff.values))
    for name in ("f0_hz", "f0_st", "jitter_local", "shimmer_local", "hnr_db", "f0_delta_st_per_s"):
        assert np.all(ff.values[~ff.voiced, COL[name]] == 0)
    st = ff.values[ff.voiced, COL["f0_st"]]
    assert np.allclose(st, 12 * np.log2(ff.values[ff.voiced, COL["f0_hz"]] / 27.5))
    assert np.median(ff.values[ff.voiced, COL["hnr_db"]]) > 10
    # the glide rises one octave per second: 12 semitones per second
    glide = ff.voiced & interior(ff.times_s, [(0.0, 1.0)], 0.1)
    assert np.median(ff.values[glide, COL["f0_delta_st_per_s"]]) == pytest.approx(12, rel=0.05)


def test_speech_mask_marks_silence_as_pause() -> None:
    y, _, voiced_spans, _ = glide_signal()
    ff = frame_features(y, SR)
    silence = interior(ff.times_s, [(1.0, 1.5)])
    assert not ff.speech[silence].any() and ff.speech[interior(ff.times_s, voiced_spans)].all()


# ---------------------------------------------------------------- the extractor on files


def test_frame_times_on_recording_clock(tmp_path: Path) -> None:
    y = np.r_[np.zeros(SR // 2), render(pulse_times(lambda t: np.full_like(t, 150.0), 0, 1.0), 1.0, 1.0)]
    sf.write(tmp_path / "a.wav", y, SR)
    out = extract(tmp_path / "a.wav", offset_s=1.5)
    assert out.times_s[0] == pytest.approx(1.5) and np.allclose(np.diff(out.times_s), 0.01)
    frames = out.arrays["frames"]
    assert frames.dtype == np.float32 and frames.shape == (len(out.times_s), len(FRAME_NAMES))
    first_voiced = out.times_s[np.argmax(frames[:, COL["voiced"]] > 0)]
    assert first_voiced == pytest.approx(2.0, abs=0.03)


def test_silence_is_not_an_error(tmp_path: Path) -> None:
    sf.write(tmp_path / "s.wav", np.zeros(SR), SR)
    out = extract(tmp_path / "s.wav")
    f = out.arrays["frames"]
    assert f.shape == (100, len(FRAME_NAMES)) and np.all(np.isfinite(f))
    assert not f[:, COL["voiced"]].any() and not f[:, COL["speech"]].any()
    assert out.attrs["voiced_fraction"] == 0.0


def test_stereo_dead_channel_and_dc_offset(tmp_path: Path) -> None:
    voice = render(pulse_times(lambda t: np.full_like(t, 140.0), 0, 1.0), 1.0, 1.0)
    sf.write(tmp_path / "mono.wav", voice, SR, subtype="FLOAT")
    sf.write(tmp_path / "stereo.wav", np.stack([np.zeros_like(voice), voice + 0.2], axis=1), SR, subtype="FLOAT")
    mono, stereo = extract(tmp_path / "mono.wav"), extract(tmp_path / "stereo.wav")
    assert stereo.attrs["dead_channels"] == [0]
    assert stereo.attrs["dc_offset"][1] == pytest.approx(0.2 + voice.mean(), abs=1e-4)
    np.testing.assert_allclose(stereo.arrays["frames"], mono.arrays["frames"], rtol=1e-3, atol=1e-3)


def test_clipping_is_flagged_and_pitch_survives(tmp_path: Path) -> None:
    voice = render(pulse_times(lambda t: np.full_like(t, 160.0), 0, 1.0), 1.0, 1.0)
    sf.write(tmp_path / "c.wav", np.clip(4 * voice, -0.5, 0.5), SR)
    out = extract(tmp_path / "c.wav")
    assert out.attrs["clipped_fraction"] > 0.01
    f = out.arrays["frames"]
    inner = (f[:, COL["voiced"]] > 0) & interior(out.times_s, [(0.0, 1.0)])
    assert inner.sum() > 80 and np.abs(f[inner, COL["f0_hz"]] / 160 - 1).max() < 0.01


def test_resamples_other_rates(tmp_path: Path) -> None:
    voice = render(pulse_times(lambda t: np.full_like(t, 210.0), 0, 1.0), 1.0, 1.0, sr=44100)
    sf.write(tmp_path / "hi.flac", voice, 44100)
    out = extract(tmp_path / "hi.flac", fmt="flac")
    f = out.arrays["frames"]
    inner = (f[:, COL["voiced"]] > 0) & interior(out.times_s, [(0.0, 1.0)])
    assert out.attrs["input_sr"] == 44100 and inner.sum() > 80
    assert np.abs(f[inner, COL["f0_hz"]] / 210 - 1).max() < 0.01


def _write_mp4(path: Path, audio: np.ndarray | None) -> None:
    import av

    with av.open(str(path), "w") as c:
        vs = c.add_stream("mpeg4", rate=10)
        vs.width, vs.height, vs.pix_fmt = 32, 32, "yuv420p"
        if audio is not None:
            aus = c.add_stream("aac", rate=SR)
            aus.layout = "mono"
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i * 20, np.uint8), format="rgb24")
            c.mux(vs.encode(frame))
        c.mux(vs.encode())
        if audio is not None:
            af = av.AudioFrame.from_ndarray(audio.astype(np.float32)[None, :], format="fltp", layout="mono")
            af.sample_rate = SR
            c.mux(aus.encode(af))
            c.mux(aus.encode())


def test_video_container_audio_track_and_missing_track(tmp_path: Path) -> None:
    voice = render(pulse_times(lambda t: np.full_like(t, 130.0), 0, 1.0), 1.0, 1.0)
    _write_mp4(tmp_path / "v.mp4", voice)
    out = extract(tmp_path / "v.mp4", fmt="mp4")
    f = out.arrays["frames"]
    inner = (f[:, COL["voiced"]] > 0) & interior(out.times_s, [(0.1, 0.9)])
    assert inner.sum() > 50 and np.abs(f[inner, COL["f0_hz"]] / 130 - 1).max() < 0.01
    _write_mp4(tmp_path / "mute.mp4", None)
    with pytest.raises(ExtractionError, match="no audio track"):
        extract(tmp_path / "mute.mp4", fmt="mp4")


def test_bad_files_raise_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(ExtractionError, match=r"empty \(0 bytes\)"):
        extract(tmp_path / "empty.wav")
    sf.write(tmp_path / "low.wav", np.zeros(4000), 4000)
    with pytest.raises(ExtractionError, match="below 8000 Hz"):
        extract(tmp_path / "low.wav")
    # a RIFF/WAVE header with an unknown codec tag (0x7777) and some payload
    payload = bytes(2000)
    fmt = struct.pack("<HHIIHH", 0x7777, 1, SR, SR * 2, 2, 16)
    riff = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(payload)) + payload
    (tmp_path / "odd.wav").write_bytes(b"RIFF" + struct.pack("<I", len(riff)) + riff)
    with pytest.raises(ExtractionError, match="cannot decode audio"):
        extract(tmp_path / "odd.wav")
    with pytest.raises(ExtractionError, match="not found"):
        extract(tmp_path / "missing.wav")


def test_truncated_files(tmp_path: Path) -> None:
    voice = render(pulse_times(lambda t: np.full_like(t, 150.0), 0, 1.0), 1.0, 1.0)
    sf.write(tmp_path / "full.wav", voice, SR, subtype="PCM_16")
    data = (tmp_path / "full.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[: len(data) // 2])   # WAV: decoded up to the cut
    out = extract(tmp_path / "cut.wav")
    assert 45 <= len(out.times_s) <= 55
    (tmp_path / "hdr.wav").write_bytes(data[:30])                 # header only: no data chunk
    with pytest.raises(ExtractionError, match="hdr.wav"):
        extract(tmp_path / "hdr.wav")
    sf.write(tmp_path / "full.flac", voice, SR)
    data = (tmp_path / "full.flac").read_bytes()
    (tmp_path / "cut.flac").write_bytes(data[: len(data) // 2])  # FLAC: the decoder loses sync -> error
    with pytest.raises(ExtractionError, match="cut.flac: cannot decode audio"):
        extract(tmp_path / "cut.flac", fmt="flac")


# ---------------------------------------------------------------- segments, config, cache identity


def test_segment_level_functionals_and_pauses(tmp_path: Path) -> None:
    tone = lambda a, b: render(pulse_times(lambda t: np.full_like(t, 150.0), 0, b - a), 1.0, b - a)  # noqa: E731
    y = np.zeros(int(4.0 * SR))
    for a, b in ((0.0, 0.6), (1.0, 1.5), (2.0, 3.0)):
        seg = tone(a, b)
        y[int(a * SR):int(a * SR) + len(seg)] = seg[: len(y) - int(a * SR)]
    sf.write(tmp_path / "p.wav", y, SR)
    out = extract(tmp_path / "p.wav", offset_s=0.5, level="segment", segment_s=2.0)
    np.testing.assert_allclose(out.times_s, [[0.5, 2.0], [2.0, 4.0], [4.0, 4.5]], atol=1e-6)
    names = segment_feature_names()
    f = out.arrays["frames"]
    assert f.shape == (3, len(names)) and np.all(np.isfinite(f))
    col = {n: i for i, n in enumerate(names)}
    # recording-clock segment [2, 4) holds file time [1.5, 3.5): pause 1.5-2.0, speech 2.0-3.0, pause 3.0-3.5
    assert f[1, col["pause_count"]] == 2 and f[1, col["pause_mean_s"]] == pytest.approx(0.5, abs=0.05)
    assert f[1, col["voiced_segment_rate_hz"]] == pytest.approx(0.5)
    assert f[1, col["f0_hz_p50"]] == pytest.approx(150, rel=0.01)
    assert f[2, col["f0_hz_mean"]] == 0 and f[2, col["voiced_mean"]] == 0
    desc = AudioExtractor(AudioConfig(level="segment")).describe()
    assert desc["feature_names"] == names and desc["segment_s"] == 2.0


def test_segment_intervals_follow_the_recording_grid() -> None:
    np.testing.assert_allclose(segment_intervals(0.0, 4.0, 2.0), [[0, 2], [2, 4]])
    np.testing.assert_allclose(segment_intervals(1.0, 2.5, 2.0), [[1, 2], [2, 3.5]])


@pytest.mark.parametrize("bad", [dict(sr=4000), dict(hop_s=0.0101), dict(hop_s=0.000125), dict(f0_floor_hz=500, f0_ceiling_hz=100),
                                 dict(level="word"), dict(segment_s=0), dict(voicing_threshold=1.5)])
def test_config_validation(bad: dict) -> None:
    with pytest.raises(ConfigError, match="audio config"):
        AudioConfig(**bad)


def test_describe_and_fingerprint_change_with_a_parameter() -> None:
    assert AudioExtractor().describe()["feature_names"] == list(FRAME_NAMES)
    libs = AudioExtractor.libraries
    ident = lambda cfg: fingerprint(group_identity("audio", AudioExtractor.version, cfg, {}, libs))  # noqa: E731
    assert ident(AudioConfig()) == ident(AudioConfig())
    assert ident(AudioConfig()) != ident(AudioConfig(hop_s=0.02))
    assert ident(AudioConfig()) != ident(AudioConfig(f0_floor_hz=75.0))


# ---------------------------------------------------------------- real speech


def test_real_speech_gpe_floor() -> None:
    root = Path(os.environ.get("EEGAVI_DATA", "")) / "speech"
    if not os.environ.get("EEGAVI_DATA") or not (root / "fda").is_dir():
        pytest.skip("EEGAVI_DATA not set: real recordings absent")
    import soxr

    from bench.pitch_scoring import best_offset, read_fda

    refs = [read_fda(root / "fda" / f"{name}.wav") for name in ("rl001", "sb001")]
    tracks = [track_pitch(soxr.resample(r.y, r.sr, SR, quality="HQ"), SR) for r in refs]
    _, gpe, vde = best_offset(refs, tracks)
    assert gpe <= 0.03 and vde <= 0.10, (gpe, vde)


def test_egemaps_needs_opensmile() -> None:
    """The openSMILE peer registers only when ``opensmile`` imports; built directly without it,
    it says how to get it."""
    import importlib.util

    from pipeline.extractors import registered_extractors
    from pipeline.extractors.audio_extractor import EgemapsExtractor

    if importlib.util.find_spec("opensmile") is not None:
        assert "egemaps" in registered_extractors()
        return
    assert "egemaps" not in registered_extractors()
    with pytest.raises(ConfigError, match="pip install opensmile"):
        EgemapsExtractor()


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "FLOAT"])
def test_pyav_fallback_decodes_like_soundfile(tmp_path: Path, subtype: str) -> None:
    """The FFmpeg path (used for containers and files libsndfile refuses) de-interleaves packed
    stereo and scales integer PCM exactly as libsndfile does."""
    from pipeline.audio.loading import _read_pyav, _read_soundfile

    y = np.stack([np.linspace(-0.5, 0.5, 1000), np.linspace(0.2, -0.2, 1000)], axis=1)
    sf.write(tmp_path / "st.wav", y, SR, subtype=subtype)
    a, sr_a = _read_pyav(tmp_path / "st.wav")
    b, sr_b = _read_soundfile(tmp_path / "st.wav")
    assert sr_a == sr_b == SR and a.shape == (2, 1000)
    np.testing.assert_allclose(a, b, atol=1e-7)


def test_cache_rebuilds_only_when_a_parameter_changes(tmp_path: Path) -> None:
    """Through the runner: same config -> nothing to do; changed hop -> a new cache group."""
    import yaml

    from pipeline.manifest import load_manifest
    from pipeline.run import RunOptions
    from pipeline.run import extract as run_extract

    sf.write(tmp_path / "a.wav", render(pulse_times(lambda t: np.full_like(t, 150.0), 0, 0.5), 1.0, 0.5), SR)
    rec = {"id": "r0", "subject": "s0", "modalities": {"voice": {"kind": "audio", "path": "a.wav"}}}
    (tmp_path / "m.yaml").write_text(yaml.safe_dump({"version": 1, "datasets": [{"name": "t", "recordings": [rec]}]}))
    manifest = load_manifest(tmp_path / "m.yaml")
    opts = RunOptions(cache=str(tmp_path / "cache.zarr"), scheduler="sync")
    first = run_extract(manifest, "audio", AudioConfig(), opts)
    again = run_extract(manifest, "audio", AudioConfig(), opts)
    changed = run_extract(manifest, "audio", AudioConfig(hop_s=0.02), opts)
    assert (first.done, again.done, again.skipped, changed.done) == (1, 0, 1, 1)
    assert first.group == again.group != changed.group


def test_crop_s_makes_the_trial_start_time_zero(tmp_path: Path) -> None:
    """MAHNOB-style: the microphone starts before the trial; options.crop_s cuts it to the trial."""
    y = np.r_[np.zeros(SR // 2), render(pulse_times(lambda t: np.full_like(t, 150.0), 0, 1.0), 1.0, 1.0)]
    sf.write(tmp_path / "a.wav", y, SR)
    stream = Stream(name="voice", kind="audio", path=tmp_path / "a.wav", format="wav", offset_s=0.2,
                    options={"crop_s": [0.25, 1.25]})
    rec = Recording(id="r1", dataset="t", subject="s1", streams={"voice": stream})
    out = AudioExtractor(AudioConfig()).extract(rec, stream)
    assert out.times_s[0] == pytest.approx(0.2) and out.times_s[-1] < 0.2 + 1.0
    first_voiced = out.times_s[np.argmax(out.arrays["frames"][:, COL["voiced"]] > 0)]
    assert first_voiced == pytest.approx(0.5 - 0.25 + 0.2, abs=0.03)   # file 0.5 s -> trial 0.25 s -> clock +0.2
    bad = Stream(name="voice", kind="audio", path=tmp_path / "a.wav", format="wav", options={"crop_s": [5, 6]})
    with pytest.raises(ExtractionError, match=r"a.wav: options.crop_s \[5.0, 6.0\] is outside"):
        AudioExtractor(AudioConfig()).extract(rec, bad)
