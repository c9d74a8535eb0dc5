"""Tiny synthetic feature caches with known times, for the fusion tests.

Groups are created through the real ``FeatureCache`` by small registered test extractors, so the
real ``pipeline.resolve.resolve_group`` (fingerprint recomputation, completeness) accepts them.
The planted signal: valence is high when EEG channel 0 carries a strong 6 Hz rhythm and the video
CLS token's first dimension is positive; arousal follows heart rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from pipeline.cache import FeatureCache
from pipeline.extractors.base import BaseExtractor, FeatureArrays, register_extractor
from pipeline.fingerprint import InputHasher, group_identity
from pipeline.inputs import input_files
from pipeline.manifest import load_manifest
from pipeline.run import mark_current


@dataclass(frozen=True)
class _NoConfig:
    pass


def _extractor(name: str, modality: str) -> type:
    return type(f"FusionTest_{name}", (BaseExtractor,), {
        "name": name, "modality": modality, "version": "1", "config_type": _NoConfig,
        "libraries": ("numpy",)})


EXTRACTORS: dict[str, type] = {k: _extractor(f"fusiontest_{k}", k) for k in ("eeg", "video", "audio", "ecg")}
EXTRACTORS["teacher"] = _extractor("fusiontest_teacher", "video")


def register_test_extractors() -> None:
    """Register the stand-in extractors (resolve_group recomputes fingerprints through the
    registry). Only for the duration of the fusion tests: see ``unregister_test_extractors``."""
    for cls in EXTRACTORS.values():
        register_extractor(cls)


def unregister_test_extractors() -> None:
    """Remove them again, so registry-wide contract tests never see these stand-ins."""
    from pipeline.extractors import base

    for cls in EXTRACTORS.values():
        if base._REGISTRY.get(cls.name) is cls:
            del base._REGISTRY[cls.name]

SFREQ = 32.0
CHANNELS = 4
SEG_S = 1.0       # video segment length
AUDIO_HOP = 0.25  # audio frame hop
VIDEO_T, VIDEO_D, AUDIO_K, BEAT_L = 3, 8, 5, 16


def make_group(cache: FeatureCache, key: str):
    cls = EXTRACTORS[key]
    ident = group_identity(cls.name, cls.version, cls.config_type(), {}, cls.libraries)
    group = cache.create_group(cls.modality, cls.name, ident, {"random_init": True})
    mark_current(cache, group)
    return group


def write_dataset(root: Path, subjects: int = 3, trials: int = 2, duration_s: float = 8.0, seed: int = 0,
                  video: bool = True, audio: bool = True, ecg: bool = True, teacher: bool = False,
                  missing_video: tuple[str, ...] = ()) -> Path:
    """Write a YAML manifest (with empty placeholder files) and a cache; return the manifest path."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    recs = []
    for s in range(subjects):
        for t in range(trials):
            rid = f"s{s}_t{t}"
            mods = {"eeg": {"path": f"{rid}.edf"}}
            if video and rid not in missing_video:
                mods["face"] = {"kind": "video", "path": f"{rid}.mp4"}
            if audio:
                mods["voice"] = {"kind": "audio", "path": f"{rid}.wav"}
            if ecg:
                mods["ecg"] = {"path": f"{rid}_ecg.edf"}
            for m in mods.values():
                (root / m["path"]).touch()
            recs.append({"id": rid, "subject": f"S{s}", "trial": f"T{t}", "modalities": mods,
                         "labels": {"valence": float(rng.uniform(1, 9)), "arousal": float(rng.uniform(1, 9))},
                         "covariates": {"age": float(20 + 5 * s)}})
    doc = {"version": 1, "cache": "cache.zarr",
           "label_scales": {"valence": {"min": 1, "max": 9}, "arousal": {"min": 1, "max": 9}},
           "datasets": [{"name": "synthetic", "recordings": recs}]}
    path = root / "data_manifest.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    manifest = load_manifest(path)
    cache = FeatureCache(manifest.cache)
    groups = {k: make_group(cache, k) for k in ("eeg", "video", "audio", "ecg") +
              (("teacher",) if teacher else ())}
    for rec in manifest.recordings:
        write_recording(cache, groups, rec, duration_s, rng)
    return path


def write_recording(cache: FeatureCache, groups: dict, rec, duration_s: float, rng: np.random.Generator) -> None:
    """Entries whose values encode their own times, so tests can check which items a window got."""
    hi_val = rec.labels["valence"] > 5
    h = {name: InputHasher(None).files_hash(input_files(st)) for name, st in rec.streams.items()}  # real hashes: stage two checks them
    n = int(duration_s * SFREQ)
    t = np.arange(n) / SFREQ
    data = rng.normal(0, 5, (n, CHANNELS)).astype(np.float32)
    data[:, 0] += (20 if hi_val else 2) * np.sin(2 * np.pi * 6 * t)
    cache.write_entry(groups["eeg"].path, rec.id, "eeg", FeatureArrays(
        t, {"data": data}, {"sfreq": SFREQ, "ch_names": [f"C{i}" for i in range(CHANNELS)]}), h["eeg"])
    if "face" in rec.streams:
        starts = np.arange(0, duration_s, SEG_S)
        tok = rng.normal(0, 1, (len(starts), 1 + VIDEO_T, VIDEO_D)).astype(np.float16)
        tok[:, :, 1] = starts[:, None]                     # dim 1 = segment start time
        tok[:, 0, 0] = 1.0 if hi_val else -1.0
        cache.write_entry(groups["video"].path, rec.id, "face",
                          FeatureArrays(np.stack([starts, starts + SEG_S], 1), {"tokens": tok}), h["face"])
        if "teacher" in groups:
            cache.write_entry(groups["teacher"].path, rec.id, "face",
                              FeatureArrays(np.stack([starts, starts + SEG_S], 1), {"tokens": tok[:, :2]}), h["face"])
    if "voice" in rec.streams:
        ft = np.arange(AUDIO_HOP / 2, duration_s, AUDIO_HOP)
        frames = rng.normal(0, 1, (len(ft), AUDIO_K)).astype(np.float32)
        frames[:, 0] = ft                                   # column 0 = frame time
        cache.write_entry(groups["audio"].path, rec.id, "voice", FeatureArrays(ft, {"frames": frames}), h["voice"])
    if "ecg" in rec.streams:
        hr = 60 + 30 * (rec.labels["arousal"] > 5)
        rt = np.arange(0.3, duration_s, 60.0 / hr)
        beats = rng.normal(0, 1, (len(rt), BEAT_L)).astype(np.float32)
        beats[:, 0] = rt                                    # sample 0 = R time
        cache.write_entry(groups["ecg"].path, rec.id, "ecg", FeatureArrays(rt, {
            "beats": beats, "rr_s": np.full(len(rt), 60.0 / hr), "hr_bpm": np.full(len(rt), float(hr)),
            "quality": np.ones(len(rt))}), h["ecg"])


