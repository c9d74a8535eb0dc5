"""Signal readers: every EEG/ECG file format becomes an ``mne.io.BaseRaw``.

MNE's Raw is the common currency for biosignals here (EDF/BDF/FIF/EEGLAB natively; WFDB via the
``wfdb`` package; dataset containers via ``pipeline.adapters.container_readers``). Readers are chosen by the
manifest's ``format`` through a registry, never by guessing from strings.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import numpy as np

from pipeline.adapters.container_readers import CONTAINER_READERS
from pipeline.errors import ExtractionError
from pipeline.manifest import Stream

_log = logging.getLogger(__name__)

RawReader = Callable[[Stream], "mne.io.BaseRaw"]  # noqa: F821
_READERS: dict[str, RawReader] = {}


def register_reader(fmt: str) -> Callable[[RawReader], RawReader]:
    """Decorator: register the reader for one manifest format."""

    def wrap(fn: RawReader) -> RawReader:
        if fmt in _READERS and _READERS[fmt] is not fn:
            raise ValueError(f"a reader for format '{fmt}' is already registered")
        _READERS[fmt] = fn
        return fn

    return wrap


def read_raw(stream: Stream) -> "mne.io.BaseRaw":  # noqa: F821
    """Read a stream's file into an MNE Raw with data loaded; errors name the file and the fix."""
    try:
        reader = _READERS[stream.format]
    except KeyError:
        raise ExtractionError(f"{stream.path}: no signal reader for format '{stream.format}'. "
                              f"Known: {sorted(_READERS)}.") from None
    if not stream.path.exists() and stream.format != "wfdb":
        raise ExtractionError(f"{stream.path}: file not found. Fix the manifest path.")
    try:
        raw = reader(stream)
    except ExtractionError:
        raise
    except Exception as e:  # any parser failure becomes one clear sentence
        raise ExtractionError(f"{stream.path}: cannot read as {stream.format.upper()} "
                              f"({type(e).__name__}: {e}). Check the file is complete and the format is right.") from e
    crop = stream.options.get("crop_s")
    if crop is not None:
        raw = _crop(raw, crop, stream)
    if stream.sfreq is not None and abs(raw.info["sfreq"] - stream.sfreq) > 1e-6 and stream.format not in ("npy",):
        _log.warning("%s: manifest sfreq %.3f differs from the file's %.3f; using the file's",
                     stream.path, stream.sfreq, raw.info["sfreq"])
    return raw


def _crop(raw, crop, stream: Stream):
    """Keep the trial span ``options.crop_s = [start_s, end_s]`` of a continuous file (seconds in the file)."""
    try:
        t0, t1 = float(crop[0]), float(crop[1])
    except (TypeError, ValueError, IndexError):
        raise ExtractionError(f"{stream.path}: options.crop_s must be [start_s, end_s], got {crop!r}.") from None
    duration = raw.n_times / raw.info["sfreq"]
    if not 0 <= t0 < t1 <= duration + 1e-6:
        raise ExtractionError(f"{stream.path}: options.crop_s [{t0}, {t1}] is outside the file's 0-{duration:.2f} s. "
                              "Fix the trial span in the manifest.")
    return raw.crop(t0, min(t1, duration), include_tmax=False, verbose="ERROR")


def _mne():
    # Verbosity is passed per call (verbose="ERROR"), never set process-wide: a notebook user's
    # own MNE log level and warnings stay theirs.
    import mne

    return mne


# Formats MNE reads natively: manifest format -> mne.io function.
_MNE_NATIVE = {"edf": "read_raw_edf", "bdf": "read_raw_bdf", "fif": "read_raw_fif", "set": "read_raw_eeglab",
               "vhdr": "read_raw_brainvision"}


def _mne_native_reader(function_name: str) -> RawReader:
    def read(stream: Stream):
        return getattr(_mne().io, function_name)(stream.path, preload=True, verbose="ERROR")

    read.__name__ = f"_read_{function_name}"
    return read


for _fmt, _function in _MNE_NATIVE.items():
    register_reader(_fmt)(_mne_native_reader(_function))


@register_reader("wfdb")
def _read_wfdb(stream: Stream):
    import wfdb

    record = wfdb.rdrecord(str(stream.path.with_suffix("")))
    signal = np.nan_to_num(record.p_signal.T.astype(np.float64), nan=np.nan)  # (C, N), physical units
    units = [u.lower() for u in (record.units or ["mV"] * signal.shape[0])]
    scale = np.array([1e-3 if u == "mv" else 1e-6 if u == "uv" else 1.0 for u in units])[:, None]
    mne = _mne()
    info = mne.create_info(list(record.sig_name), float(record.fs), ch_types="ecg", verbose="ERROR")
    return mne.io.RawArray(signal * scale, info, verbose="ERROR")


@register_reader("npy")
def _read_npy(stream: Stream):
    """A (channels, samples) .npy array in volts; needs ``sfreq`` and channel names in the manifest."""
    if stream.sfreq is None:
        raise ExtractionError(f"{stream.path}: format 'npy' carries no sampling rate. Add 'sfreq' to the stream.")
    data = np.load(stream.path, allow_pickle=False)
    if data.ndim != 2:
        raise ExtractionError(f"{stream.path}: expected a 2-D (channels, samples) array, got shape {data.shape}.")
    names = [str(c) for c in stream.channels] if stream.channels else [f"ch{i}" for i in range(data.shape[0])]
    if len(names) != data.shape[0]:
        names = [f"ch{i}" for i in range(data.shape[0])]
    mne = _mne()
    return mne.io.RawArray(data.astype(np.float64), mne.create_info(names, stream.sfreq, "misc"), verbose="ERROR")


def pick_channels(raw, stream: Stream, default_types: tuple[str, ...]) -> list[str]:
    """Names of the channels to use: the manifest's selection (names or 0-based indices), else
    every channel of ``default_types``; raises naming the missing channels."""
    names = list(raw.ch_names)
    if stream.channels:
        picked: list[str] = []
        missing: list[str] = []
        for c in stream.channels:
            if isinstance(c, int):
                if 0 <= c < len(names):
                    picked.append(names[c])
                else:
                    missing.append(f"#{c}")
            elif c in names:
                picked.append(c)
            else:
                match = [n for n in names if n.lower() == str(c).lower()]
                (picked.append(match[0]) if match else missing.append(str(c)))
        if missing:
            raise ExtractionError(f"{stream.path}: channel(s) {missing} not in the file "
                                  f"(it has {names[:40]}{'...' if len(names) > 40 else ''}). Fix 'channels' in the manifest.")
        return picked
    types = raw.get_channel_types()
    picked = [n for n, t in zip(names, types) if t in default_types]
    if not picked:
        raise ExtractionError(f"{stream.path}: no channel of type {list(default_types)} "
                              f"(channels: {names[:40]}). List the channels in the manifest's 'channels'.")
    return picked


def stream_duration_s(raw) -> float:
    """Length of a Raw in seconds."""
    return raw.n_times / raw.info["sfreq"]


for _fmt, _reader in CONTAINER_READERS.items():
    register_reader(_fmt)(_reader)


__all__ = ["read_raw", "register_reader", "pick_channels", "stream_duration_s", "Path"]
