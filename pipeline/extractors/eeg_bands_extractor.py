"""Band differential entropy per fixed window: the feature TorchEEG users cache for DEAP/DREAMER.

Unlike ``eeg`` (a continuous signal, windows cut in stage two), this stores one feature row per
window: ``de`` (windows, channels, bands) float32 with ``[start, end)`` window times. It reads the
stream as it is (DEAP's preprocessed files are already filtered and at 128 Hz), in microvolts, so
its numbers equal TorchEEG's ``BandDifferentialEntropy`` on the same windows (see
``pipeline.eeg_bands``). Every config field is in the fingerprint: a changed band edge is a new
cache group, never a stale read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from pipeline.eeg_bands import DEFAULT_BANDS, FILTERS, LOGS, Band, band_de
from pipeline.errors import ConfigError, ExtractionError
from pipeline.extractors.base import BaseExtractor, FeatureArrays, register_extractor
from pipeline.manifest import Recording, Stream
from pipeline.signal_readers import pick_channels, read_raw


def _band(item: object) -> Band:
    if isinstance(item, (tuple, list)) and len(item) == 1:  # "name:low-high" wrapped by config layering
        item = item[0]
    if isinstance(item, str):
        name, edges = item.split(":")
        low, high = edges.split("-")
        return name.strip(), float(low), float(high)
    name, low, high = item  # type: ignore[misc]
    return str(name), float(low), float(high)


def parse_bands(value: object) -> tuple[Band, ...]:
    """Bands from a config value: ``"theta:4-8,alpha:8-14"`` (CLI) or a sequence of (name, low, high)."""
    items = value.split(",") if isinstance(value, str) else value
    try:
        return tuple(_band(item) for item in items if item != "")  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ConfigError(f"eeg-bands.bands {value!r}: expected NAME:LOW-HIGH[,...] such as theta:4-8,alpha:8-14, "
                          "or a list of [name, low_hz, high_hz]") from None


@dataclass(frozen=True)
class EEGBandsConfig:
    """Windows and bands. Frequencies in Hz, durations in seconds; defaults are TorchEEG's DEAP ones."""

    bands: tuple[Band, ...] | str = DEFAULT_BANDS   # str: "theta:4-8,alpha:8-14" (CLI), parsed below
    window_s: float = 1.0
    hop_s: float = 1.0
    order: int = 5                      # Butterworth order of each band-pass
    filter: str = "window-lfilter"      # window-lfilter (TorchEEG) | trial-sosfiltfilt (zero-phase)
    log: str = "log2"                   # log2 (TorchEEG) | ln

    def __post_init__(self) -> None:
        bands = parse_bands(self.bands)
        object.__setattr__(self, "bands", bands)
        names = [n for n, _, _ in bands]
        if not bands or len(set(names)) != len(names):
            raise ConfigError(f"eeg-bands.bands {names}: need at least one band and unique names")
        for name, low, high in bands:
            if not 0 < low < high:
                raise ConfigError(f"eeg-bands band '{name}' {low}-{high} Hz is empty; need 0 < low < high")
        if self.window_s <= 0 or self.hop_s <= 0:
            raise ConfigError(f"eeg-bands window_s ({self.window_s}) and hop_s ({self.hop_s}) must be > 0 s")
        if self.order < 1:
            raise ConfigError(f"eeg-bands.order must be >= 1, got {self.order}")
        if self.filter not in FILTERS:
            raise ConfigError(f"eeg-bands.filter must be one of {list(FILTERS)}, got '{self.filter}'")
        if self.log not in LOGS:
            raise ConfigError(f"eeg-bands.log must be one of {list(LOGS)}, got '{self.log}'")


def _samples(seconds: float, sfreq: float, what: str, where: str) -> int:
    n = seconds * sfreq
    if abs(n - round(n)) > 1e-6:
        raise ExtractionError(f"{where}: {what} {seconds} s is not a whole number of samples at {sfreq} Hz. "
                              f"Choose a {what} that is a multiple of {1 / sfreq:g} s.")
    return int(round(n))


@register_extractor
class EEGBands(BaseExtractor):
    """Band differential entropy of fixed windows of one EEG stream."""

    name: ClassVar[str] = "eeg-bands"
    modality: ClassVar[str] = "eeg"
    version: ClassVar[str] = "1"
    config_type: ClassVar[type] = EEGBandsConfig
    libraries: ClassVar[tuple[str, ...]] = ("mne", "numpy", "scipy")

    def describe(self) -> dict:
        return {"unit": "DE of µV", "layout": "de (windows, channels, bands)",
                "bands": [list(b) for b in self.config.bands]}

    def extract(self, recording: Recording, stream: Stream) -> FeatureArrays:
        cfg: EEGBandsConfig = self.config
        where = str(stream.path)
        raw = read_raw(stream)
        names = pick_channels(raw, stream, default_types=("eeg",))
        sfreq = float(raw.info["sfreq"])
        nyq = sfreq / 2
        too_high = [n for n, _, hi in cfg.bands if hi >= nyq]
        if too_high:
            raise ExtractionError(f"{where}: band(s) {too_high} reach the Nyquist frequency ({nyq} Hz). "
                                  "Lower their upper edge.")
        win = _samples(cfg.window_s, sfreq, "window_s", where)
        hop = _samples(cfg.hop_s, sfreq, "hop_s", where)
        data = raw.get_data(picks=names) * 1e6                             # (C, N) µV, as the file stores it
        if not np.isfinite(data).all():
            raise ExtractionError(f"{where}: NaN/inf samples; band DE needs clean data. Run `cli extract eeg` "
                                  "(which repairs NaNs) or fix the file.")
        de = band_de(data, sfreq, cfg.bands, win, hop, cfg.order, cfg.filter, cfg.log)   # (W, C, B)
        starts = np.arange(de.shape[0]) * hop / sfreq + stream.offset_s
        times = np.stack([starts, starts + win / sfreq], axis=1)             # (W, 2) [start, end)
        # de (window, channel, band): 0.5 * log(2 pi e var) of the band-passed window in microvolts
        return FeatureArrays(times_s=times, arrays={"de": de.astype(np.float32)},
                             attrs={"sfreq": sfreq, "ch_names": list(names),
                                    "bands": [n for n, _, _ in cfg.bands]},
                             dims={"de": ("time", "channel", "band")}, units={"de": f"{cfg.log}(uV)"},
                             coords={"channel": list(names), "band": [n for n, _, _ in cfg.bands]})
