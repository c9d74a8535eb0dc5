"""Open the cache from a notebook: list groups, read entries as xarray datasets.

Every entry is a valid xarray dataset (named dimensions ``time``, ``channel``, ``feature``,
``token``, ``dim``, ...; ``times_s`` as the time coordinate in seconds on the recording clock;
units and the extractor's fingerprint as attributes), so this is a thin convenience: any zarr or
xarray tool can read the store directly. xarray is an optional dependency (``pip install
eegavi[xarray]``) imported only when a dataset is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.cache import LAYOUT_VERSION, FeatureCache, GroupInfo
from pipeline.errors import CacheError
from pipeline.features import FeatureArrays
from pipeline.manifest import Manifest, load_manifest
from pipeline.resolve import build_command, read_current_group


@dataclass(frozen=True)
class CacheView:
    """A read-only view of one cache (and, when opened from a manifest, its recordings)."""

    cache: FeatureCache
    manifest: Manifest | None = None

    def groups(self, modality: str | None = None) -> list[GroupInfo]:
        """Every extractor group (optionally of one modality), newest first."""
        return self.cache.groups(modality)

    def current(self, modality: str, extractor: str | None = None) -> GroupInfo:
        """The group ``cli extract`` last marked current for a modality (what training reads)."""
        return read_current_group(self.cache, modality, extractor, manifest=self.manifest)

    def group(self, group: str | GroupInfo) -> GroupInfo:
        """A group by path (``eeg/eeg-1a2b...``), by modality (its current group), or as given."""
        if isinstance(group, GroupInfo):
            return group
        return self.cache.group(group) if "/" in group else self.current(group)

    def entries(self, group: str | GroupInfo) -> list[tuple[str, str]]:
        """(recording_id, stream) of every complete entry of a group."""
        return sorted(self.cache.complete_entries(self.group(group).path))

    def read(self, group: str | GroupInfo, recording_id: str, stream: str) -> FeatureArrays:
        """One entry as numpy arrays (no xarray needed)."""
        return self.cache.read_entry(self.group(group).path, recording_id, stream)

    def dataset(self, group: str | GroupInfo, recording_id: str, stream: str) -> Any:
        """One entry as an ``xarray.Dataset`` (lazy, dask-backed)."""
        xr = _xarray()
        info = self.group(group)
        path = f"{info.path}/{recording_id}/{stream}"
        mark = self.cache.entry_mark(info.path, recording_id, stream)
        if mark is None:
            raise CacheError(f"{self.cache.location}: entry '{path}' is missing or incomplete. "
                             f"Build it with `{build_command(info.modality, info.extractor, info)}`.")
        if mark.get("layout", 1) < LAYOUT_VERSION:
            raise CacheError(f"{self.cache.location}: entry '{path}' was written before cache layout "
                             f"{LAYOUT_VERSION} (no dimension names), so xarray cannot open it; it still trains and "
                             "CacheView.read() reads it. To open it in xarray, rebuild it: `cli cache gc`, then "
                             f"`{build_command(info.modality, info.extractor, info)}`.")
        return xr.open_zarr(self.cache.location, group=path, consolidated=False)

    def datatree(self, group: str | GroupInfo) -> Any:
        """A whole group as an ``xarray.DataTree``: one node per recording, one per stream below."""
        info = self.group(group)
        return _xarray().open_datatree(self.cache.location, group=info.path, engine="zarr", consolidated=False)


def open_cache(manifest_or_cache: str | Path) -> CacheView:
    """Open a cache by its data manifest (``*.yaml``: the cache it names) or by its location."""
    location = str(manifest_or_cache)
    manifest = None
    if location.endswith((".yaml", ".yml")):
        manifest = load_manifest(Path(location), check_files=False)  # a copied cache may travel without raw data
        location = str(manifest.cache)
    cache = FeatureCache(location)
    if not cache.exists():
        raise CacheError(f"{location}: no cache here. Check the path, or build one with `cli extract all`.")
    return CacheView(cache, manifest)


def _xarray() -> Any:
    try:
        import xarray
    except ImportError as e:
        raise CacheError("reading the cache as xarray datasets needs xarray: pip install 'eegavi[xarray]' "
                         "(or pip install xarray).") from e
    return xarray
