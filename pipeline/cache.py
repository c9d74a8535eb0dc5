"""The Zarr v3 feature cache: one group per extractor fingerprint, one entry per recording stream.

Layout::

    <store>/<modality>/<extractor>-<fingerprint>/          group attrs: identity, random_init, created, ...
        <recording_id>/<stream>/                            one entry
            times_s, <array>, ...                           arrays, axis 0 = items
            attrs["eegavi_entry"] = {"complete": true, ...} completion mark, written LAST

An entry is created with ``complete: false``, its arrays are written, and only then is the mark
set (Zarr's local store writes each metadata file atomically). Readers treat an entry without the
mark, or whose metadata cannot be read, as absent; so a crash at any moment leaves either a
complete entry or none. Stage one writes through ``write_entry``; stage two reads through
``read_entry``; both share only this module (and the manifest).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from pipeline.errors import CacheError
from pipeline.features import TIMES, FeatureArrays

_log = logging.getLogger(__name__)

GROUP_KEY = "eegavi_group"
ENTRY_KEY = "eegavi_entry"
TARGET_CHUNK_BYTES = 4 << 20
# 2: arrays carry dimension_names, units and a crc32c per chunk; entries are xarray datasets.
# Layout 1 caches still read and train; only opening them in xarray needs a re-extraction.
LAYOUT_VERSION = 2
# zstd as zarr's default, then crc32c so a corrupted chunk fails at read time, not only in verify.
_COMPRESSORS = (zarr.codecs.ZstdCodec(level=0), zarr.codecs.Crc32cCodec())


@dataclass(frozen=True)
class GroupInfo:
    """One extractor instance's group: where it is and everything that produced it."""

    path: str
    modality: str
    extractor: str
    fingerprint: str
    identity: dict[str, Any] = field(hash=False, compare=False)
    attrs: dict[str, Any] = field(hash=False, compare=False)

    @property
    def random_init(self) -> bool:
        return bool(self.attrs.get("random_init", False))


def array_checksum(arr: np.ndarray) -> str:
    """sha256 over dtype, shape and bytes: what ``verify`` recomputes from the stored chunks."""
    if arr.dtype.kind in "OUT":  # labels (channel/feature names): hash the text, not object pointers
        return hashlib.sha256(("str" + "\n".join(map(str, arr.ravel()))).encode()).hexdigest()
    h = hashlib.sha256(f"{arr.dtype.str}{arr.shape}".encode())
    h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def _chunks_for(arr: np.ndarray) -> tuple[int, ...]:
    """Chunk along axis 0 only, about TARGET_CHUNK_BYTES each, so time slices read few chunks."""
    row_bytes = max(1, int(np.prod(arr.shape[1:], dtype=np.int64)) * arr.dtype.itemsize)
    rows = max(1, min(arr.shape[0], TARGET_CHUNK_BYTES // row_bytes))
    return (rows,) + tuple(arr.shape[1:])


def _require_group(root: zarr.Group, path: str) -> zarr.Group:
    """``require_group`` that tolerates another process creating the same group concurrently."""
    for attempt in range(20):
        try:
            return root.require_group(path)
        except Exception:
            if attempt == 19:
                raise
            time.sleep(0.1)
    raise AssertionError("unreachable")


def _subgroups(root: zarr.Group, path: str) -> list[tuple[str, zarr.Group]]:
    """Child groups of ``path``; one whose metadata a crash left torn is absent (with a warning).

    Listing through zarr reads every child's metadata and fails as a whole on one torn file, so
    then the children are listed from the store and opened one by one.
    """
    try:
        return list(root[path].groups())
    except ValueError:  # JSONDecodeError of one child's zarr.json
        pass
    from zarr.core.sync import sync

    async def names() -> list[str]:
        return [name async for name in root.store.list_dir(path)]

    children: list[tuple[str, zarr.Group]] = []
    for name in sorted(n for n in sync(names()) if n != "zarr.json"):
        try:
            children.append((name, zarr.open_group(root.store, path=f"{path}/{name}", mode="r")))
        except (FileNotFoundError, ValueError) as e:
            _log.warning("%s/%s: metadata unreadable (%s: %s); treated as absent", path, name, type(e).__name__, e)
    return children


def _local_complete_marks(group_dir: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """``complete_entries`` of a local store, read from each entry's ``zarr.json`` directly.

    Why: opening 1,280 entries through zarr's async layer took 4 s of a no-op ``cli extract`` on
    32 DEAP subjects; the Zarr v3 metadata file of a group is plain JSON with its ``attributes``, so
    reading it is the same question answered in 0.1 s. Torn metadata is absent, with a warning, as
    in ``_subgroups``.
    """
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for rec in sorted(os.scandir(group_dir), key=lambda e: e.name):
        if not rec.is_dir():
            continue
        for stream in sorted(os.scandir(rec.path), key=lambda e: e.name):
            meta = Path(stream.path) / "zarr.json"
            if not stream.is_dir() or not meta.is_file():
                continue
            try:
                node = json.loads(meta.read_bytes())
            except ValueError as e:
                _log.warning("%s: metadata unreadable (%s: %s); treated as absent", meta, type(e).__name__, e)
                continue
            mark = node.get("attributes", {}).get(ENTRY_KEY) if node.get("node_type") == "group" else None
            if mark and mark.get("complete"):
                out[(rec.name, stream.name)] = dict(mark)
    return out


class FeatureCache:
    """A Zarr v3 store (a local folder, or any fsspec URL) holding feature groups."""

    def __init__(self, location: str | Path) -> None:
        self.location = str(location)
        self.is_local = "://" not in self.location
        self._root: zarr.Group | None = None

    # ------------------------------------------------------------------ store access
    def _open_root(self, create: bool) -> zarr.Group | None:
        if self._root is not None:
            return self._root
        if self.is_local and not create and not Path(self.location).exists():
            return None
        last: Exception | None = None
        for attempt in range(20):  # another process may be creating the same store this instant
            try:
                try:
                    self._root = zarr.open_group(self.location, mode="a" if create else "r+", zarr_format=3,
                                                 storage_options=self._storage_options)
                except (PermissionError, ValueError):  # read-only storage: readers still work
                    if create:
                        raise
                    self._root = zarr.open_group(self.location, mode="r", zarr_format=3,
                                                 storage_options=self._storage_options)
                return self._root
            except FileNotFoundError:
                return None
            except Exception as e:
                last = e
                time.sleep(0.05 * (attempt + 1))
        raise CacheError(f"{self.location}: cannot open as a Zarr v3 store ({type(last).__name__}: {last}). "
                         "Point --cache at a cache folder or a new path.") from last

    @property
    def _storage_options(self) -> dict[str, Any] | None:
        # fsspec's local file system does not create parent folders unless asked; object stores need none.
        return {"auto_mkdir": True} if self.location.startswith("file://") else None

    def root_attr(self, key: str, default: Any = None) -> Any:
        """A store-level attribute (e.g. which groups are current)."""
        root = self._open_root(create=False)
        return default if root is None else root.attrs.get(key, default)

    def set_root_attr(self, key: str, value: Any) -> None:
        self._open_root(create=True).attrs[key] = value

    def modalities(self) -> list[str]:
        """Names of the modality groups in the store (``eeg``, ``video``, ...)."""
        root = self._open_root(create=False)
        return [] if root is None else sorted(name for name, _ in root.groups())

    def modality_attr(self, modality: str, key: str, default: Any = None) -> Any:
        """An attribute of a modality group (e.g. its current-group pointer)."""
        root = self._open_root(create=False)
        if root is None or modality not in root:
            return default
        return root[modality].attrs.get(key, default)

    def set_modality_attr(self, modality: str, key: str, value: Any) -> None:
        _require_group(self._open_root(create=True), modality).attrs[key] = value

    def _root_or_raise(self) -> zarr.Group:
        root = self._open_root(create=False)
        if root is None:
            raise CacheError(f"{self.location}: no cache here yet. Build it with `cli extract all`.")
        return root

    def exists(self) -> bool:
        return self._open_root(create=False) is not None

    # ------------------------------------------------------------------ groups
    def create_group(self, modality: str, extractor: str, identity: dict[str, Any],
                     attrs: dict[str, Any]) -> GroupInfo:
        """Create (or reopen) the group for one extractor fingerprint and record its identity."""
        from pipeline.fingerprint import fingerprint

        missing = {"extractor", "version", "config", "weights", "libraries"} - set(identity)
        if missing:
            raise CacheError(f"group identity lacks {sorted(missing)}")
        fp = fingerprint(identity)
        path = f"{modality}/{extractor}-{fp}"
        root = self._open_root(create=True)
        grp = _require_group(root, path)
        existing = grp.attrs.get(GROUP_KEY)
        if existing is None:
            meta = {"modality": modality, "extractor": extractor, "fingerprint": fp, "identity": identity,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **attrs}
            # Flat copies for xarray/datatree users; the fingerprint never depends on them.
            grp.attrs.update({GROUP_KEY: meta, "modality": modality, "extractor": extractor, "fingerprint": fp,
                              "layout": LAYOUT_VERSION})
        else:
            meta = {**existing, **{k: v for k, v in attrs.items() if k not in ("created",)}}
            if meta != existing:
                grp.attrs[GROUP_KEY] = meta
        return self._info(path, meta)

    @staticmethod
    def _info(path: str, meta: dict[str, Any]) -> GroupInfo:
        attrs = {k: v for k, v in meta.items() if k not in ("modality", "extractor", "fingerprint", "identity")}
        return GroupInfo(path=path, modality=meta["modality"], extractor=meta["extractor"],
                         fingerprint=meta["fingerprint"], identity=meta["identity"], attrs=attrs)

    def group(self, path: str) -> GroupInfo:
        root = self._root_or_raise()
        try:
            meta = root[path].attrs[GROUP_KEY]
        except KeyError:
            raise CacheError(f"{self.location}: group '{path}' not found. Run `cli cache ls` to see what exists.") from None
        return self._info(path, dict(meta))

    def groups(self, modality: str | None = None) -> list[GroupInfo]:
        """Every extractor group in the store (optionally of one modality), newest first."""
        root = self._open_root(create=False)
        if root is None:
            return []
        out: list[GroupInfo] = []
        for mod_name, mod_group in sorted(root.groups()):
            if modality is not None and mod_name != modality:
                continue
            for name, grp in sorted(mod_group.groups()):
                meta = grp.attrs.get(GROUP_KEY)
                if meta is not None:
                    out.append(self._info(f"{mod_name}/{name}", dict(meta)))
        out.sort(key=lambda g: g.attrs.get("created", ""), reverse=True)
        return out

    def update_group_attrs(self, path: str, **attrs: Any) -> None:
        grp = self._root_or_raise()[path]
        grp.attrs[GROUP_KEY] = {**grp.attrs[GROUP_KEY], **attrs}

    def remove_group(self, path: str) -> None:
        root = self._root_or_raise()
        if path in root:
            del root[path]

    # ------------------------------------------------------------------ entries
    def _entry_group(self, group_path: str, recording_id: str, stream: str) -> zarr.Group | None:
        root = self._open_root(create=False)
        if root is None:
            return None
        try:
            return zarr.open_group(root.store, path=f"{group_path}/{recording_id}/{stream}", mode="r")
        except (FileNotFoundError, ValueError):  # absent (GroupNotFoundError), or metadata torn by a crash
            return None                           # (JSONDecodeError): both mean "no entry"

    def entry_mark(self, group_path: str, recording_id: str, stream: str) -> dict[str, Any] | None:
        """The completion mark of an entry, or None when the entry is absent or incomplete."""
        grp = self._entry_group(group_path, recording_id, stream)
        if grp is None:
            return None
        mark = grp.attrs.get(ENTRY_KEY)
        return dict(mark) if mark and mark.get("complete") else None

    def complete_entries(self, group_path: str) -> dict[tuple[str, str], dict[str, Any]]:
        """(recording_id, stream) -> completion mark, for every complete entry of a group."""
        root = self._open_root(create=False)
        if root is None or group_path not in root:
            return {}
        if self.is_local:
            return _local_complete_marks(Path(self.location) / group_path)
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for rec_id, _ in _subgroups(root, group_path):
            for stream, entry in _subgroups(root, f"{group_path}/{rec_id}"):
                mark = entry.attrs.get(ENTRY_KEY)
                if mark and mark.get("complete"):
                    out[(rec_id, stream)] = dict(mark)
        return out

    def write_entry(self, group_path: str, recording_id: str, stream: str, feats: FeatureArrays,
                    input_hash: str, extra: dict[str, Any] | None = None) -> None:
        """Write one entry: clear any old one, write arrays, then set the completion mark last.

        Each array carries zarr v3 ``dimension_names``, its units and a crc32c checksum per chunk,
        and the entry's attributes name its extractor, fingerprint and clock, so the entry is also
        a valid xarray dataset (see ``pipeline.cache_api``)."""
        root = self._open_root(create=True)
        key = f"{group_path}/{recording_id}/{stream}"
        del root[key]  # an old entry, or one a crash left torn (`key in root` would fail on it); absent: no-op
        grp = _require_group(root, key)
        grp.attrs[ENTRY_KEY] = {"complete": False}
        arrays = {TIMES: np.asarray(feats.times_s, dtype=np.float64), **feats.arrays}
        checksums = {name: self._write_array(grp, key, name, arr, feats.dims_of(name), {
            "units": feats.unit_of(name), **({"coordinates": TIMES} if name != TIMES else {})})
            for name, arr in arrays.items()}
        coords = {dim: self._write_array(grp, key, dim, np.asarray([str(v) for v in labels], dtype=object), (dim,), {},
                                         labels=True)
                  for dim, labels in feats.coords.items()}
        extractor, _, fp = group_path.rpartition("/")[2].rpartition("-")
        described = {**{k: v for k, v in feats.attrs.items() if k not in (ENTRY_KEY, "coordinates")},
                     "extractor": extractor, "fingerprint": fp, "recording": recording_id, "stream": stream,
                     "clock": "seconds on the recording clock (0 = trial start)", "layout": LAYOUT_VERSION}
        mark = {"complete": True, "layout": LAYOUT_VERSION, "input_hash": input_hash, "checksums": checksums,
                "coords": coords, "shapes": {name: list(arr.shape) for name, arr in arrays.items()}, "attrs": feats.attrs,
                "n_items": int(len(feats.times_s)), "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                **(extra or {})}
        grp.attrs.update({**described, ENTRY_KEY: mark})  # one metadata write: the mark comes last

    @staticmethod
    def _write_array(grp: zarr.Group, key: str, name: str, arr: np.ndarray, dims: tuple[str, ...],
                     attrs: dict[str, Any], labels: bool = False) -> str:
        """Write one array with its dimension names, attributes and per-chunk crc32c; its checksum.
        ``labels``: coordinate labels (channel, feature names), stored as variable-length strings."""
        if arr.dtype == object and not labels:
            raise CacheError(f"entry {key}: array '{name}' has dtype object; use numeric arrays.")
        arr = arr if labels else np.ascontiguousarray(arr)
        zarr_arr = grp.create_array(name, shape=arr.shape, dtype=str if labels else arr.dtype, chunks=_chunks_for(arr),
                                    compressors=_COMPRESSORS, dimension_names=dims, attributes=attrs)
        if arr.size:
            zarr_arr[...] = arr
        return array_checksum(arr)

    def read_entry(self, group_path: str, recording_id: str, stream: str) -> FeatureArrays:
        """Read one complete entry; an absent or incomplete entry is a CacheError."""
        grp = self._entry_group(group_path, recording_id, stream)
        mark = grp.attrs.get(ENTRY_KEY) if grp is not None else None
        if not mark or not mark.get("complete"):
            raise CacheError(f"{self.location}: entry '{group_path}/{recording_id}/{stream}' is missing or "
                             "incomplete. Rebuild it with `cli extract`.")
        arrays = {name: grp[name][...] for name in mark["checksums"]}
        times = arrays.pop("times_s")
        return FeatureArrays(times_s=times, arrays=arrays, attrs=dict(mark.get("attrs", {})))

    # ------------------------------------------------------------------ integrity and size
    def verify(self, group_path: str) -> list[str]:
        """Re-read every complete entry of a group and compare checksums; return problems found."""
        problems: list[str] = []
        root = self._root_or_raise()
        for (rec_id, stream), mark in sorted(self.complete_entries(group_path).items()):
            entry = root[f"{group_path}/{rec_id}/{stream}"]
            for name, expected in {**mark.get("checksums", {}), **mark.get("coords", {})}.items():
                where = f"{group_path}/{rec_id}/{stream}/{name}"
                try:
                    got = array_checksum(entry[name][...])
                except Exception as e:
                    problems.append(f"{where}: unreadable ({type(e).__name__}: {e}). Delete the entry and re-extract.")
                    continue
                if got != expected:
                    problems.append(f"{where}: checksum mismatch (stored data changed). Re-extract this recording.")
        return problems

    def size_bytes(self, group_path: str) -> int:
        """Bytes on disk of one group (local stores; fsspec stores use ``du``)."""
        if self.is_local:
            base = Path(self.location) / group_path
            return sum(p.stat().st_size for p in base.rglob("*") if p.is_file())
        import fsspec

        fs, path = fsspec.core.url_to_fs(self.location)
        return int(fs.du(f"{path.rstrip('/')}/{group_path}"))

