"""Windows over the feature cache: EEG slices plus, by time, the other modalities' items.

Every cached array carries times on the recording clock, so a window ``[start, start+window_s)``
gathers the EEG samples in it, the video segments overlapping it, the audio frames and the ECG
R-peaks inside it. Each modality is padded to a fixed item count (the maximum over all windows
of the dataset) with an availability mask; a recording without a stream gets an all-False mask,
never a crash. Features are held in RAM (they are compact by design) so a batch is numpy slicing.

Normalisation statistics (per-subject EEG, per-feature audio/ECG, covariates) are fitted on the
training recordings only (``fit_normaliser``) and travel with the checkpoint.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fusion.stream_kinds import STREAM_KINDS, stream_kind
from pipeline.cache import FeatureCache, GroupInfo
from pipeline.errors import CacheError
from pipeline.manifest import Manifest, Recording
from pipeline.modalities import DERIVED_TEACHERS, TEACHER_MODALITY

_log = logging.getLogger(__name__)
KINDS = ("eeg",) + tuple(STREAM_KINDS)


@dataclass(frozen=True)
class InputSpec:
    """One fusion input: a stream name, its modality kind and the cache group it is read from."""

    name: str
    kind: str
    group: GroupInfo
    array: str = "tokens"        # a teacher's target array: (N, D), or (N, T, D) read at token 0 (CLS)
    valid: str | None = None     # a teacher's per-row validity array (N,); None: every row is valid


@dataclass
class StreamItems:
    """One recording's items of one stream: begin/end times (points have begin == end)."""

    begin: np.ndarray                 # (N,) seconds, sorted
    end: np.ndarray                   # (N,) seconds
    arrays: dict[str, np.ndarray]     # axis 0 = items
    is_point: bool


@dataclass
class RecordingFeatures:
    """Everything stage two needs from one recording, in memory."""

    rec: Recording
    eeg: np.ndarray                   # (C, N) float32 microvolts
    eeg_t0: float                     # recording-clock time of sample 0, seconds
    sfreq: float                      # EEG sampling rate, Hz
    ch_names: tuple[str, ...]
    streams: dict[str, StreamItems] = field(default_factory=dict)
    teacher: StreamItems | None = None


def expand_inputs(modalities: tuple[str, ...], manifest: Manifest) -> list[tuple[str, str]]:
    """(stream name, kind) for each requested modality. A kind name with no stream of that name
    expands to every stream of that kind (e.g. "video" -> "face", "stimulus")."""
    kinds_by_name: dict[str, str] = {}
    for r in manifest.recordings:
        for s in r.streams.values():
            kinds_by_name.setdefault(s.name, s.kind)
    out: list[tuple[str, str]] = []
    for m in modalities:
        if m in kinds_by_name:
            out.append((m, kinds_by_name[m]))
        elif m in KINDS:
            found = sorted(n for n, k in kinds_by_name.items() if k == m)
            if not found:
                _log.warning("modality '%s': no recording in %s has a stream of that kind; it is skipped",
                             m, manifest.path)
            out += [(n, m) for n in found]
        else:
            raise CacheError(f"{manifest.path}: modality '{m}' is neither a stream name "
                             f"({sorted(kinds_by_name)}) nor a kind ({list(KINDS)}). Fix --modalities.")
    eeg = [o for o in out if o[1] == "eeg"]
    if len(eeg) != 1:
        raise CacheError(f"{manifest.path}: expected exactly one EEG stream among {out}; pass it by name.")
    return eeg + [o for o in dict.fromkeys(out) if o[1] != "eeg"]


def resolve_inputs(names: list[tuple[str, str]], cache: FeatureCache, pins: dict[str, str],
                   teacher: str | None, manifest: Manifest | None = None,
                   recorded: dict[str, dict[str, Any]] | None = None) -> tuple[list[InputSpec], InputSpec | None]:
    """Find each input's cache group from the cache alone: the group ``cli extract`` marked current
    (training), or with ``recorded`` (a run's ``fingerprints.json``) the very groups a run read
    (evaluation). A missing or incomplete group raises CacheError with the ``cli extract ...`` command."""
    from pipeline.resolve import read_current_group

    groups: dict[tuple[str, str | None], GroupInfo] = {}

    def group(kind: str, extractor: str | None, key: str) -> GroupInfo:
        if recorded is not None:
            return recorded_group(cache, recorded, key, kind, manifest)
        if (kind, extractor) not in groups:
            streams = [n for n, k in names if k == kind] or None
            groups[(kind, extractor)] = read_current_group(cache, kind, extractor, manifest=manifest, streams=streams)
        return groups[(kind, extractor)]

    specs = [InputSpec(n, k, group(k, pins.get(k), n)) for n, k in names
             if recorded is None or n in recorded]
    t_spec = None
    if teacher is not None and teacher.split(":", 1)[0] in DERIVED_TEACHERS:
        return specs, _derived_teacher(teacher, cache, manifest)
    if teacher is not None:
        stream, extractor = teacher.split(":", 1)
        if manifest is not None and stream in KINDS and not any(stream in r.streams for r in manifest.recordings):
            found = sorted({s.name for r in manifest.recordings for s in r.streams_of(stream)})
            if not found:
                raise CacheError(f"{manifest.path}: teacher '{teacher}': no stream of kind '{stream}'. "
                                 "Fix --teacher (e.g. face:vivit).")
            stream = found[0]  # a kind names its first stream; name the stream to pick another
        kind = next((k for n, k in names if n == stream), None)
        if kind is None and manifest is not None:
            kind = next((s.kind for r in manifest.recordings for s in r.streams.values() if s.name == stream), None)
        t_spec = InputSpec(stream, kind or stream, group(kind or stream, extractor, f"teacher:{stream}"))
    return specs, t_spec


def _derived_teacher(teacher: str, cache: FeatureCache, manifest: Manifest | None) -> InputSpec:
    """``vate:video``: the current derived teacher group, its entries keyed by the video stream, and
    which array (and validity mask) the targets are; stops when its upstream groups were replaced."""
    from pipeline.derived import check_lineage
    from pipeline.resolve import read_current_group

    name, _, part = teacher.partition(":")
    parts = DERIVED_TEACHERS[name]
    if part not in parts:
        raise CacheError(f"--teacher {teacher}: teacher '{name}' has parts {', '.join(parts)}; "
                         f"pass e.g. --teacher {name}:{next(iter(parts))}.")
    group = read_current_group(cache, TEACHER_MODALITY, name)
    check_lineage(cache, group)
    streams = sorted({s.name for r in manifest.recordings for s in r.streams_of("video")}) if manifest else []
    if manifest is not None:  # entries are keyed by video stream, which the generic check cannot know
        expected = {(r.id, s.name) for r in manifest.recordings for s in r.streams_of("video")}
        missing = sorted(expected - set(cache.complete_entries(group.path)))
        if missing:
            raise CacheError(f"{cache.location}: {group.path} is incomplete: {len(missing)} of {len(expected)} video "
                             f"streams missing (e.g. {'/'.join(missing[0])}). Finish it with "
                             f"`{group.attrs.get('command') or 'cli extract teacher'}` and check the failure log.")
    array, valid = parts[part]
    return InputSpec(streams[0] if streams else "video", TEACHER_MODALITY, group, array, valid)


def teacher_items(items: StreamItems, spec: InputSpec) -> StreamItems:
    """A teacher entry as targets (N, D) float32 and validity (N,) bool, whatever array holds them."""
    arr = items.arrays[spec.array]
    target = arr[:, 0] if arr.ndim == 3 else arr
    valid = (np.asarray(items.arrays[spec.valid], bool) if spec.valid else np.ones(len(target), bool))
    return StreamItems(items.begin, items.end, {"target": target, "valid": valid}, items.is_point)


def recorded_group(cache: FeatureCache, recorded: dict[str, dict[str, Any]], key: str, kind: str,
                   manifest: Manifest | None) -> GroupInfo:
    """The group a run recorded for input ``key``, which must still be in the cache with its fingerprint."""
    from pipeline.resolve import build_command, check_complete

    info = recorded.get(key)
    if info is None:
        raise CacheError(f"the run recorded no cache group for input '{key}' (recorded: {sorted(recorded)}). "
                         "Evaluate with the run's own configuration.")
    try:
        g = cache.group(info["group"])
    except CacheError:
        raise CacheError(f"{cache.location}: the run was trained on {info['group']} for '{key}', which this cache "
                         f"does not hold. Pass --cache with the cache the run was trained on, or rebuild it with "
                         f"`{build_command(kind, info.get('extractor'))}` and the training-time config.") from None
    if g.fingerprint != info["fingerprint"]:
        raise CacheError(f"{cache.location}: {info['group']} now has fingerprint {g.fingerprint}, the run recorded "
                         f"{info['fingerprint']}. Retrain, or use the cache the run was trained on.")
    if manifest is not None:
        check_complete(cache, g, manifest, [key.split(":", 1)[-1]])
    return g


def check_recorded_inputs(cache: FeatureCache, manifest: Manifest, specs: list[InputSpec]) -> dict[str, int]:
    """Compare reachable input files with the hashes in each group's entries (``pipeline.inputs``):
    a changed recording stops with its rebuild command; unreachable files are said once, not fatal."""
    from pipeline.inputs import check_inputs

    by_group: dict[str, tuple[GroupInfo, list[str]]] = {}
    for s in specs:
        by_group.setdefault(s.group.path, (s.group, []))[1].append(s.name)
    checked, unreachable, example = 0, 0, None
    for group, streams in by_group.values():
        result = check_inputs(cache, manifest, group, streams=streams, log_unreachable=False)
        checked += len(result.checked)
        unreachable += len(result.unreachable)
        example = example or (result.unreachable[0] if result.unreachable else None)
    if unreachable:
        _log.warning("%s: input files of %d of %d recording stream(s) are not reachable (e.g. %s); their hashes "
                     "were not checked, the cache is used as it is", manifest.path, unreachable,
                     unreachable + checked, "/".join(example))
    return {"checked": checked, "unreachable": unreachable}


def _items(feats: Any) -> StreamItems:
    t = np.asarray(feats.times_s, dtype=np.float64)
    if t.ndim == 2:
        return StreamItems(t[:, 0], t[:, 1], dict(feats.arrays), is_point=False)
    return StreamItems(t, t, dict(feats.arrays), is_point=True)


def load_features(manifest: Manifest, cache: FeatureCache, inputs: list[InputSpec],
                  teacher: InputSpec | None = None) -> list[RecordingFeatures]:
    """Read every recording's entries. A recording without the EEG entry is skipped (logged);
    a missing other stream becomes an absent modality."""
    eeg_spec = inputs[0]
    out: list[RecordingFeatures] = []
    ref: tuple[float, tuple] | None = None
    for rec in manifest.recordings:
        try:
            e = cache.read_entry(eeg_spec.group.path, rec.id, eeg_spec.name)
        except CacheError:
            _log.warning("recording '%s': no EEG entry in %s; skipped", rec.id, eeg_spec.group.path)
            continue
        sig = (float(e.attrs.get("sfreq", 0)), tuple(e.attrs.get("ch_names", [])))
        if ref is None:
            ref = sig
        elif sig != ref:
            raise CacheError(f"{cache.location}: recording '{rec.id}' EEG has sfreq/channels {sig}, others {ref}. "
                             "Re-extract EEG with a fixed resample rate and channel list.")
        rf = RecordingFeatures(rec=rec, eeg=np.ascontiguousarray(e.arrays["data"].T, dtype=np.float32),
                               eeg_t0=float(e.times_s[0]) if len(e.times_s) else 0.0,
                               sfreq=sig[0], ch_names=sig[1])
        for spec in inputs[1:] + ([teacher] if teacher else []):
            if spec.name not in rec.streams:
                continue
            try:
                items = _items(cache.read_entry(spec.group.path, rec.id, spec.name))
            except CacheError:
                _log.warning("recording '%s': no '%s' entry in %s; treated as missing", rec.id, spec.name,
                             spec.group.path)
                continue
            if spec is teacher:
                rf.teacher = teacher_items(items, spec)
            else:
                rf.streams[spec.name] = items
        out.append(rf)
    if not out:
        raise CacheError(f"{cache.location}: no recording has a complete EEG entry in {eeg_spec.group.path}. "
                         "Run `cli extract eeg`.")
    return out


def _window_counts(items: StreamItems, starts: np.ndarray, window_s: float) -> tuple[np.ndarray, np.ndarray]:
    """First item index and item count per window: points (R-peaks, frame centres) inside
    [s, s+w) via ``pipeline.timeline.events_in_windows``; intervals (segments) overlapping it."""
    from pipeline.timeline import events_in_windows

    stops = starts + window_s
    if items.is_point:
        lo, hi = events_in_windows(items.begin, np.stack([starts, stops], axis=1))
    else:
        lo = np.searchsorted(items.end, starts, side="right")   # first interval ending after start
        hi = np.searchsorted(items.begin, stops, side="left")   # intervals beginning before stop
    return lo, np.maximum(hi - lo, 0)


def item_shapes(features: list[RecordingFeatures], spec: InputSpec) -> dict[str, tuple[int, ...]]:
    """Shape of one item of each array the model reads for ``spec`` ({} when no recording has it)."""
    for rf in features:
        items = rf.streams.get(spec.name)
        if items is None:
            continue
        arrays = stream_kind(spec.kind, spec.name).model_arrays(items.arrays)
        return {k: tuple(a.shape[1:]) for k, a in arrays.items()}
    return {}


class WindowSet:
    """All windows of a list of recordings, with fixed pad sizes and batch assembly.

    The ``layout`` (pad sizes, item shapes) is computed once over every recording and shared by
    train/val/test subsets (``subset``) so the model's inputs have one shape.
    """

    def __init__(self, features: list[RecordingFeatures], inputs: list[InputSpec], window_s: float,
                 hop_s: float, sfreq: float, layout: "Layout | None" = None) -> None:
        self.features, self.inputs, self.window_s, self.sfreq = features, inputs, window_s, sfreq
        self.hop_s = hop_s
        self.n_samples = int(round(window_s * sfreq))
        rec_idx, starts, bounds = [], [], [0]
        for i, rf in enumerate(features):
            dur = rf.eeg.shape[1] / sfreq
            n = int(math.floor((dur - window_s) / hop_s + 1e-9)) + 1 if dur >= window_s - 1e-9 else 0
            if n == 0:
                _log.warning("recording '%s': %.2f s of EEG is shorter than one %.2f s window; no windows",
                             rf.rec.id, dur, window_s)
            rec_idx += [i] * n
            starts += list(rf.eeg_t0 + hop_s * np.arange(n))
            bounds.append(bounds[-1] + n)
        self.rec_idx = np.asarray(rec_idx, dtype=np.int64)
        self.starts = np.asarray(starts, dtype=np.float64)
        self.normed: dict[tuple, dict[str, np.ndarray]] = {}
        self._lo: dict[str, np.ndarray] = {}
        self._n: dict[str, np.ndarray] = {}
        for name in [s.name for s in inputs[1:]] + ["__teacher__"]:
            lo = np.zeros(len(self), np.int64)
            cnt = np.zeros(len(self), np.int64)
            for i, rf in enumerate(features):
                items = rf.teacher if name == "__teacher__" else rf.streams.get(name)
                sel = slice(bounds[i], bounds[i + 1])
                if items is not None and bounds[i + 1] > bounds[i]:
                    lo[sel], cnt[sel] = _window_counts(items, self.starts[sel], window_s)
            self._lo[name], self._n[name] = lo, cnt
        if layout is None:
            layout = Layout(pad_sizes={k: max(1, int(v.max()) if len(v) else 0) for k, v in self._n.items()},
                            item_shapes={s.name: item_shapes(features, s) for s in inputs[1:]})
        self.pad_sizes, self.item_shapes = layout.pad_sizes, layout.item_shapes
        self.layout = layout

    def __len__(self) -> int:
        return len(self.rec_idx)

    def subset(self, rec_ids: set[str] | tuple[str, ...]) -> "WindowSet":
        """A window set over some recordings, sharing this one's layout (pad sizes, item shapes)."""
        keep = set(rec_ids)
        feats = [rf for rf in self.features if rf.rec.id in keep]
        return WindowSet(feats, self.inputs, self.window_s, self.hop_s, self.sfreq, self.layout)


@dataclass(frozen=True)
class Layout:
    """Fixed per-input pad sizes and item shapes, computed once over every recording."""

    pad_sizes: dict[str, int]
    item_shapes: dict[str, dict[str, tuple[int, ...]]]


@dataclass
class Prepared:
    """Everything loaded once per run and shared by its folds."""

    manifest: Manifest
    inputs: list[InputSpec]
    teacher: InputSpec | None
    windows: WindowSet
    cov_names: tuple[str, ...]
    fingerprints: dict[str, dict[str, Any]]          # input -> group, fingerprint, extractor (the run records it)
    inputs_checked: dict[str, int] = field(default_factory=dict)  # recording streams checked / not reachable


def prepare_data(manifest: Manifest, cache: FeatureCache, modalities: tuple[str, ...], pins: dict[str, str],
                 teacher: str | None, window_s: float, hop_s: float,
                 recorded: dict[str, dict[str, Any]] | None = None, check_inputs: bool = True) -> Prepared:
    """Resolve groups from the cache alone (the current ones, or the ``recorded`` ones of a run),
    check reachable input files against them, read the features and cut every window. Inputs with
    no data in any recording are dropped with a warning."""
    names = expand_inputs(modalities, manifest)
    specs, t_spec = resolve_inputs(names, cache, pins, teacher, manifest, recorded)
    inputs_checked = check_recorded_inputs(cache, manifest, specs + ([t_spec] if t_spec else [])) \
        if check_inputs else {}
    features = load_features(manifest, cache, specs, t_spec)
    empty = [s for s in specs[1:] if not item_shapes(features, s)]
    for s in empty:
        _log.warning("input '%s' (%s): no recording has items; it is dropped", s.name, s.group.path)
    specs = [s for s in specs if s not in empty]
    windows = WindowSet(features, specs, window_s, hop_s, features[0].sfreq)
    cov_names = tuple(sorted({c for rf in features for c in rf.rec.covariates}))
    def fp(s: InputSpec) -> dict[str, Any]:
        return {"group": s.group.path, "fingerprint": s.group.fingerprint, "extractor": s.group.extractor,
                "modality": s.group.modality, "random_init": s.group.random_init}

    fps = {s.name: fp(s) for s in specs}
    if t_spec is not None:
        fps[f"teacher:{t_spec.name}"] = fp(t_spec)
    return Prepared(manifest, specs, t_spec, windows, cov_names, fps, inputs_checked)
