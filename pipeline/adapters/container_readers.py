"""Signal readers for the datasets' own containers (DEAP .dat/.mat, DREAMER.mat, AMIGOS .mat).

Each returns an ``mne.io.RawArray`` in volts with channel types (eeg, ecg, eog/emg, misc), so the
extractors pick channels the same way as for EDF/BDF. Which trial (and part) of the container a
stream means is given by ``stream.options``; the adapters write those options.
``pipeline.signal_readers`` looks them up in ``CONTAINER_READERS`` (imports run one way: the
generic reader knows the containers, the containers know nothing of it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.adapters import layouts as L
from pipeline.adapters.containers import as_list, load_cached
from pipeline.errors import ExtractionError
from pipeline.manifest import Stream

_UV = 1e-6  # the containers store microvolts (DEAP/DREAMER/AMIGOS documentation; memory)


def _raw(data: np.ndarray, names: list[str], types: list[str], sfreq: float):
    import mne

    scale = np.array([_UV if t in ("eeg", "eog", "emg", "ecg") else 1.0 for t in types])[:, None]
    info = mne.create_info(names, float(sfreq), types, verbose="ERROR")
    return mne.io.RawArray(np.asarray(data, dtype=np.float64) * scale, info, verbose="ERROR")


def _index(stream: Stream, key: str, count: int) -> int:
    value = stream.options.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < count:
        raise ExtractionError(f"{stream.path}: options.{key} must be an integer in 0..{count - 1}, got {value!r}. "
                              "Rebuild the manifest with `cli manifest from`.")
    return value


def _choice(stream: Stream, key: str, allowed: tuple[str, ...], default: str) -> str:
    value = stream.options.get(key, default)
    if value not in allowed:
        raise ExtractionError(f"{stream.path}: options.{key} must be one of {list(allowed)}, got {value!r}.")
    return value


# ---------------------------------------------------------------------------------------- DEAP
def deap_channels(n: int) -> tuple[list[str], list[str]]:
    """Names and MNE types of the first ``n`` channels of a DEAP preprocessed trial."""
    names = list(L.DEAP_EEG_CHANNELS) + [p for p, _ in L.DEAP_PERIPHERAL]
    types = ["eeg"] * len(L.DEAP_EEG_CHANNELS) + [t for _, t in L.DEAP_PERIPHERAL]
    return names[:n], types[:n]


def check_deap_content(content: Any, path: Any) -> tuple[np.ndarray, np.ndarray]:
    """The (data, labels) arrays of a DEAP container, or an error saying what is wrong."""
    if not isinstance(content, dict) or "data" not in content or "labels" not in content:
        keys = sorted(content) if isinstance(content, dict) else type(content).__name__
        raise ExtractionError(f"{path}: expected a dict with 'data' and 'labels' (DEAP preprocessed layout), "
                              f"got {keys}. Is this a DEAP sXX file?")
    data, labels = np.asarray(content["data"]), np.asarray(content["labels"])
    n_base = int(round(L.DEAP_BASELINE_S * L.DEAP_SFREQ))
    if data.ndim != 3 or not 32 <= data.shape[1] <= 40 or data.shape[2] <= n_base:
        raise ExtractionError(f"{path}: 'data' has shape {data.shape}; expected (trials, 32..40 channels, "
                              f"samples > {n_base}) like DEAP's 40 x 40 x 8064. The file is truncated or not DEAP.")
    if labels.ndim != 2 or labels.shape[0] != data.shape[0] or labels.shape[1] < len(L.DEAP_LABELS):
        raise ExtractionError(f"{path}: 'labels' has shape {labels.shape}; expected ({data.shape[0]}, 4).")
    return data, labels


def _deap_trial(stream: Stream, kind: str):
    data, _ = check_deap_content(load_cached(stream.path, kind), stream.path)
    trial = data[_index(stream, "trial_index", data.shape[0])]
    sfreq = stream.sfreq or L.DEAP_SFREQ
    baseline_s = float(stream.options.get("baseline_s", L.DEAP_BASELINE_S))
    n_base = int(round(baseline_s * sfreq))
    part = _choice(stream, "part", ("stimulus", "baseline", "full"), "stimulus")
    trial = {"stimulus": trial[:, n_base:], "baseline": trial[:, :n_base], "full": trial}[part]
    names, types = deap_channels(trial.shape[0])
    return _raw(trial, names, types, sfreq)


def read_deap_dat(stream: Stream):
    """One trial of a DEAP ``sXX.dat`` pickle (restricted unpickler); part 'stimulus' drops the 3 s baseline."""
    return _deap_trial(stream, "pickle")


def read_deap_mat(stream: Stream):
    """One trial of a DEAP ``sXX.mat`` (data_preprocessed_matlab), same layout as the pickle."""
    return _deap_trial(stream, "mat")


# ------------------------------------------------------------------------------------- DREAMER
def dreamer_subjects(content: Any, path: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The DREAMER struct and its list of subject structs, or an error naming what is missing."""
    top = content.get("DREAMER") if isinstance(content, dict) else None
    if not isinstance(top, dict) or "Data" not in top:
        raise ExtractionError(f"{path}: no struct 'DREAMER' with field 'Data'. Is this DREAMER.mat?")
    subjects = as_list(top["Data"])
    if not all(isinstance(s, dict) for s in subjects):
        raise ExtractionError(f"{path}: DREAMER.Data is not a list of subject structs.")
    return top, subjects


def dreamer_signal(subject: dict[str, Any], signal: str, part: str, film: int) -> np.ndarray:
    """Samples x channels array of one film's stimulus or baseline part, as stored."""
    return np.asarray(as_list(subject[signal][part])[film], dtype=np.float64)


def read_dreamer(stream: Stream):
    """One film of one DREAMER subject: EEG (eeg streams) or ECG (ecg streams), stimuli or baseline."""
    top, subjects = dreamer_subjects(load_cached(stream.path, "mat"), stream.path)
    subject = subjects[_index(stream, "subject_index", len(subjects))]
    part = _choice(stream, "part", L.DREAMER_PARTS, "stimuli")
    signal = "ECG" if stream.kind == "ecg" else "EEG"
    n_films = len(as_list(subject[signal][part]))
    arr = dreamer_signal(subject, signal, part, _index(stream, "film_index", n_films))
    if signal == "EEG":
        names, kind = list(L.DREAMER_EEG_CHANNELS), "eeg"
        sfreq = float(top.get("EEG_SamplingRate", L.DREAMER_EEG_SFREQ))
        electrodes = [str(e) for e in as_list(top.get("EEG_Electrodes", []))]
        names = electrodes if len(electrodes) == arr.shape[1] else names
    else:
        names, kind = list(L.DREAMER_ECG_CHANNELS), "ecg"
        sfreq = float(top.get("ECG_SamplingRate", L.DREAMER_ECG_SFREQ))
    if arr.ndim != 2 or arr.shape[1] != len(names):
        raise ExtractionError(f"{stream.path}: DREAMER {signal}.{part} of this film has shape {arr.shape}; "
                              f"expected (samples, {len(names)}).")
    return _raw(arr.T, names, [kind] * len(names), sfreq)


# -------------------------------------------------------------------------------------- AMIGOS
def amigos_channels() -> tuple[list[str], list[str]]:
    names = list(L.AMIGOS_EEG_CHANNELS) + [n for n, _ in L.AMIGOS_OTHER_CHANNELS]
    types = ["eeg"] * len(L.AMIGOS_EEG_CHANNELS) + [t for _, t in L.AMIGOS_OTHER_CHANNELS]
    return names, types


def amigos_trials(content: Any, path: Any) -> list[np.ndarray]:
    if not isinstance(content, dict) or "joined_data" not in content:
        raise ExtractionError(f"{path}: no variable 'joined_data'. Is this an AMIGOS Data_Preprocessed_Pxx.mat?")
    return [np.asarray(t, dtype=np.float64) for t in as_list(content["joined_data"])]


def read_amigos(stream: Stream):
    """One trial of an AMIGOS ``Data_Preprocessed_Pxx.mat``: 14 EEG + 2 ECG + GSR at 128 Hz."""
    trials = amigos_trials(load_cached(stream.path, "mat"), stream.path)
    arr = trials[_index(stream, "trial_index", len(trials))]
    names, types = amigos_channels()
    if arr.ndim != 2 or arr.shape[1] != len(names) or arr.shape[0] == 0:
        raise ExtractionError(f"{stream.path}: joined_data of this trial has shape {arr.shape}; expected "
                              f"(samples, {len(names)}). The dataset marks some trials incomplete; drop this one.")
    return _raw(arr.T, names, types, stream.sfreq or L.AMIGOS_SFREQ)


# manifest format -> reader; ``pipeline.signal_readers.read_raw`` dispatches on it.
CONTAINER_READERS = {"deap_dat": read_deap_dat, "deap_mat": read_deap_mat, "dreamer_mat": read_dreamer,
                     "amigos_mat": read_amigos}
