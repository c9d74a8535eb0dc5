"""The manifest: datasets -> recordings -> named modality streams, validated with pydantic.

A recording is one trial of one subject and is the unit of extraction and of the cache. Each
stream (``eeg``, ``ecg``, ``face`` video, ``voice`` audio, ...) has its own file and an ``offset_s``
that places it on the recording's clock. Validation collects every problem before any heavy work.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.errors import ManifestError
from pipeline.yaml_memo import load_yaml

MODALITY_KINDS = ("eeg", "ecg", "video", "audio")
FORMATS: dict[str, tuple[str, ...]] = {
    "eeg": ("edf", "bdf", "fif", "set", "vhdr", "deap_dat", "deap_mat", "dreamer_mat", "amigos_mat", "npy"),
    "ecg": ("edf", "bdf", "fif", "wfdb", "dreamer_mat", "amigos_mat", "npy"),
    "video": ("mp4", "avi", "mov", "mkv", "webm"),
    "audio": ("wav", "flac", "ogg", "mp4", "avi", "mov", "mkv", "webm"),
}
EXTENSION_FORMATS = {
    ".edf": "edf", ".bdf": "bdf", ".fif": "fif", ".set": "set", ".vhdr": "vhdr", ".hea": "wfdb", ".dat": "deap_dat",
    ".mp4": "mp4", ".avi": "avi", ".mov": "mov", ".mkv": "mkv", ".webm": "webm",
    ".wav": "wav", ".flac": "flac", ".ogg": "ogg", ".npy": "npy",
}


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LabelScale(_Strict):
    """Range of a rating scale and the rule that splits it into low/high classes.

    ``threshold_inclusive`` says where a rating equal to the threshold goes. The default (False:
    high means ``value > threshold``) keeps the scale's neutral midpoint (5 on 1-9, 3 on 1-5) in the
    low class, as this project always did; True (``value >= threshold``) is the other rule in the
    literature (e.g. loaders that call DREAMER's 3 high). Stage two binarises only through
    :meth:`binarize`, so the manifest alone decides.
    """

    min: float
    max: float
    threshold: float | None = None
    threshold_inclusive: bool = False

    @model_validator(mode="after")
    def _check_range(self) -> "LabelScale":
        if not self.min < self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        if self.threshold is not None and not self.min <= self.threshold <= self.max:
            raise ValueError(f"threshold {self.threshold} is outside [{self.min}, {self.max}]")
        return self

    @property
    def resolved_threshold(self) -> float:
        """Threshold for binary labels: the given one, else the scale's midpoint."""
        return self.threshold if self.threshold is not None else (self.min + self.max) / 2

    def binarize(self, value: float, threshold: float | None = None) -> float:
        """1.0 when ``value`` is high under this scale's rule, else 0.0.

        ``threshold`` overrides the scale's own (e.g. a training run's ``thresholds``); the
        inclusive/exclusive rule stays the scale's.
        """
        thr = self.resolved_threshold if threshold is None else threshold
        return float(value >= thr if self.threshold_inclusive else value > thr)


class StreamSpec(_Strict):
    """One modality stream of a recording as written in the YAML."""

    kind: Literal["eeg", "ecg", "video", "audio"] | None = None
    path: str
    format: str | None = None
    sfreq: float | None = Field(default=None, gt=0)
    channels: list[str | int] | None = None
    offset_s: float = 0.0
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("offset_s")
    @classmethod
    def _offset_non_negative(cls, v: float) -> float:
        if not math.isfinite(v) or v < 0:
            raise ValueError(f"offset_s must be a finite number >= 0 seconds, got {v}")
        return v


class RecordingSpec(_Strict):
    id: str = Field(min_length=1)
    subject: str = Field(min_length=1)
    session: str | None = None
    trial: str | None = None
    stimulus: str | None = None        # the clip or film watched; stimulus-held-out splits need it
    labels: dict[str, float] = Field(default_factory=dict)
    covariates: dict[str, float] = Field(default_factory=dict)
    modalities: dict[str, StreamSpec]

    @field_validator("subject", "session", "trial", "stimulus", "id", mode="before")
    @classmethod
    def _ids_as_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) else v


class DatasetSpec(_Strict):
    name: str
    root: str = "."
    notes: str | None = None           # free text, e.g. "DEAP peripheral channels have no ECG"
    label_scales: dict[str, LabelScale] = Field(default_factory=dict)
    recordings: list[RecordingSpec]


class ManifestSpec(_Strict):
    version: Literal[1] = 1
    cache: str | None = None
    label_scales: dict[str, LabelScale] = Field(default_factory=dict)
    datasets: list[DatasetSpec]


# ---------------------------------------------------------------- resolved, plain data


@dataclass(frozen=True)
class Stream:
    """One resolved modality stream: absolute path, known format, place on the recording clock."""

    name: str
    kind: str
    path: Path
    format: str
    offset_s: float = 0.0
    sfreq: float | None = None
    channels: tuple[str | int, ...] | None = None
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "path": str(self.path), "format": self.format,
                "offset_s": self.offset_s, "sfreq": self.sfreq,
                "channels": list(self.channels) if self.channels is not None else None,
                "options": dict(self.options)}


@dataclass(frozen=True)
class Recording:
    """One trial of one subject: the unit of the manifest, of extraction and of the cache."""

    id: str
    dataset: str
    subject: str
    streams: dict[str, Stream] = field(hash=False, compare=False)
    session: str | None = None
    trial: str | None = None
    labels: dict[str, float] = field(default_factory=dict, hash=False, compare=False)
    covariates: dict[str, float] = field(default_factory=dict, hash=False, compare=False)
    stimulus: str | None = None  # clip/film id shared across subjects (splits hold stimuli out by it)

    def streams_of(self, kind: str) -> list[Stream]:
        """Streams of one modality kind, in manifest order."""
        return [s for s in self.streams.values() if s.kind == kind]


@dataclass(frozen=True)
class Manifest:
    """The validated manifest: recordings plus the label scales and where the cache lives."""

    path: Path
    recordings: tuple[Recording, ...]
    label_scales: dict[str, LabelScale] = field(hash=False, compare=False)
    cache: Path

    def by_id(self) -> dict[str, Recording]:
        return {r.id: r for r in self.recordings}

    def subjects(self) -> list[str]:
        return sorted({r.subject for r in self.recordings})


_LIST_KEYS = {"recordings": ("recording", "id"), "datasets": ("dataset", "name")}


def _describe_loc(raw: dict, loc: tuple) -> str:
    """Turn a pydantic error location into 'recording 'id': key' using the raw data."""
    parts: list[str] = []
    node: Any = raw
    i = 0
    while i < len(loc):
        key = loc[i]
        if key in _LIST_KEYS and i + 1 < len(loc) and isinstance(node, dict):
            label, id_key = _LIST_KEYS[key]
            items, idx = node.get(key) or [], loc[i + 1]
            item = items[idx] if isinstance(idx, int) and idx < len(items) and isinstance(items[idx], dict) else {}
            parts = [f"{label} '{item.get(id_key, f'#{idx}')}'"]
            node = item
            i += 2
            continue
        parts.append(str(key))
        node = node.get(key, {}) if isinstance(node, dict) else {}
        i += 1
    if not parts:
        return "top level"
    head, rest = parts[0], ".".join(parts[1:])
    return f"{head}: {rest}" if rest and head.startswith(("recording", "dataset")) else ".".join(parts)


def _resolve_format(kind: str, spec: StreamSpec, path: Path) -> str | None:
    if spec.format:
        return spec.format.lower()
    return EXTENSION_FORMATS.get(path.suffix.lower())


def _check_semantics(spec: ManifestSpec, base: Path, check_files: bool) -> tuple[list[str], list[Recording]]:
    problems: list[str] = []
    recordings: list[Recording] = []
    seen: dict[str, str] = {}
    # many recordings share one file (DEAP: 40 trials per subject file): resolve and probe each once
    resolve = functools.cache(lambda root, rel: (root / rel).resolve())
    exists = functools.cache(lambda p: p.exists())
    for ds in spec.datasets:
        root = (base / ds.root).resolve()
        scales = {**spec.label_scales, **ds.label_scales}
        for r in ds.recordings:
            where = f"recording '{r.id}'"
            if r.id in seen:
                problems.append(f"{where}: duplicate id (also in dataset '{seen[r.id]}'). Give every recording a unique id.")
            seen[r.id] = ds.name
            for name, value in r.labels.items():
                if name not in scales:
                    problems.append(f"{where}: labels.{name}: unknown label scale. Add '{name}' to label_scales "
                                    f"(known: {sorted(scales) or 'none'}).")
                elif not scales[name].min <= value <= scales[name].max:
                    problems.append(f"{where}: labels.{name}: {value} is outside its scale "
                                    f"[{scales[name].min}, {scales[name].max}]. Fix the value or the scale.")
            if not r.modalities:
                problems.append(f"{where}: modalities: empty. Add at least an 'eeg' stream.")
            streams: dict[str, Stream] = {}
            for name, s in r.modalities.items():
                key = f"{where}: modalities.{name}"
                kind = s.kind or (name if name in MODALITY_KINDS else None)
                if kind is None:
                    problems.append(f"{key}: stream name is not a modality kind; add 'kind: eeg|ecg|video|audio'.")
                    continue
                path = Path(s.path)
                resolved = path if path.is_absolute() else resolve(root, path)
                if not path.is_absolute() and not resolved.is_relative_to(root):
                    problems.append(f"{key}: path '{s.path}' points outside the dataset root '{root}'. "
                                    "Use a path inside the root, an absolute path, or set the dataset's 'root'.")
                    continue
                fmt = _resolve_format(kind, s, resolved)
                if fmt is None or fmt not in FORMATS[kind]:
                    problems.append(f"{key}: unknown {kind} format '{fmt or resolved.suffix}' for '{s.path}'. "
                                    f"Set 'format' to one of {list(FORMATS[kind])}.")
                    continue
                if check_files:
                    probe = resolved.with_suffix(".hea") if fmt == "wfdb" else resolved
                    if not exists(probe):
                        problems.append(f"{key}: {kind} path '{s.path}' not found (looked at '{probe}'). "
                                        "Fix the path or remove the modality.")
                streams[name] = Stream(name=name, kind=kind, path=resolved, format=fmt, offset_s=s.offset_s,
                                       sfreq=s.sfreq, channels=tuple(s.channels) if s.channels else None,
                                       options=dict(s.options))
            recordings.append(Recording(id=r.id, dataset=ds.name, subject=r.subject, session=r.session,
                                        trial=r.trial, stimulus=r.stimulus, streams=streams,
                                        labels=dict(r.labels), covariates=dict(r.covariates)))
    return problems, recordings


def parse_manifest(raw: Any, path: Path, check_files: bool = True) -> Manifest:
    """Validate raw YAML data; raise ManifestError listing every problem at once."""
    source = str(path)
    if not isinstance(raw, dict):
        raise ManifestError(["top level: expected a mapping with 'datasets'. See the README's manifest section."], source)
    try:
        spec = ManifestSpec.model_validate(raw)
    except ValidationError as e:
        problems = [f"{_describe_loc(raw, tuple(err['loc']))}: {err['msg']}" for err in e.errors()]
        raise ManifestError(problems, source) from e
    base = path.parent.resolve()
    problems, recordings = _check_semantics(spec, base, check_files)
    if problems:
        raise ManifestError(problems, source)
    scales: dict[str, LabelScale] = dict(spec.label_scales)
    for ds in spec.datasets:
        scales.update(ds.label_scales)
    cache = (base / spec.cache).resolve() if spec.cache else base / "cache.zarr"
    return Manifest(path=path.resolve(), recordings=tuple(recordings), label_scales=scales, cache=cache)


def load_manifest(path: str | Path, check_files: bool = True) -> Manifest:
    """Read and validate a manifest YAML file."""
    path = Path(path)
    if not path.exists():
        raise ManifestError(["file not found. Pass --manifest PATH or create it (cli synth demo writes one)."], str(path))
    try:
        raw = load_yaml(path)
    except yaml.YAMLError as e:
        raise ManifestError([f"not valid YAML: {e}"], str(path)) from e
    return parse_manifest(raw, path, check_files=check_files)


def dump_manifest(data: dict[str, Any], path: str | Path) -> None:
    """Write manifest data as YAML (used by the demo generator and the dataset adapters)."""
    Path(path).write_text(yaml.safe_dump(data, sort_keys=False))
