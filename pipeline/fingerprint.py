"""Fingerprints: the cache group key and the content hash of input files.

The group key hashes everything that changes the numbers: extractor name and output version, the
canonical JSON of the full resolved config (defaults included), the weights' identity and the
versions of the libraries that compute it. Input files are keyed by content (sha256), never by
mtime, so a copied dataset keeps its cache; the content hash is memoised by (size, mtime) so a
no-op rerun does not reread every video.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
import uuid
from importlib import metadata
from pathlib import Path
from typing import Any

from pipeline.errors import CacheError

FINGERPRINT_CHARS = 12


def canonical_json(obj: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace; tuples as lists; refuses unhashable values."""

    def default(o: Any) -> Any:
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return dataclasses.asdict(o)
        if isinstance(o, (set, frozenset)):
            return sorted(o)
        if isinstance(o, Path):
            return str(o)
        raise CacheError(f"cannot fingerprint value of type {type(o).__name__}: {o!r}. "
                         "Use plain numbers, strings, lists and dicts in extractor configs.")

    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=default, allow_nan=False)


def library_versions(names: tuple[str, ...] | list[str]) -> dict[str, str]:
    """Installed versions of the distributions that compute an extractor's numbers."""
    out: dict[str, str] = {}
    for name in sorted(set(names)):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError as e:
            raise CacheError(f"library '{name}' is not installed, so its version cannot be fingerprinted. "
                             f"Install it (pip install {name}).") from e
    return out


def group_identity(name: str, version: str, config: Any, weights: dict[str, Any],
                   libraries: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """Everything that goes into a group's fingerprint, in readable form."""
    cfg = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    for field_name in getattr(config, "runtime_fields", ()):  # speed-only knobs (batch size, prefetch depth)
        cfg.pop(field_name, None)
    # Options of a feature that is switched off (video's face_* while face_crop is off) hold their
    # defaults and change no number; leaving them out keeps the fingerprints that groups had before
    # the feature existed, so adding an optional feature rebuilds no one's cache.
    unused = getattr(config, "unused_fields", None)
    for field_name in unused() if callable(unused) else ():
        cfg.pop(field_name, None)
    return {"extractor": name, "version": version, "config": json.loads(canonical_json(cfg)),
            "weights": json.loads(canonical_json(weights)), "libraries": library_versions(libraries)}


def fingerprint(identity: dict[str, Any]) -> str:
    """Short sha256 of a group identity."""
    return hashlib.sha256(canonical_json(identity).encode()).hexdigest()[:FINGERPRINT_CHARS]


def hash_file(path: Path, chunk: int = 1 << 20) -> str:
    """sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


class InputHasher:
    """Content hashes of input files, memoised by (path, size, mtime_ns) in a JSON file.

    The memo only saves rereading unchanged files; the key the cache compares is always the
    content hash, so touching a file without changing it does not re-extract anything.
    """

    def __init__(self, memo_path: Path | None = None) -> None:
        self.memo_path = memo_path
        self._lock = threading.Lock()
        self._memo: dict[str, list] = {}
        self._seen: dict[Path, str] = {}   # this pass: a file shared by many recordings (DEAP: 40) is stat'ed once
        self._dirty = False
        if memo_path is not None and memo_path.exists():
            try:
                self._memo = json.loads(memo_path.read_text())
            except (OSError, ValueError):
                self._memo = {}

    def file_hash(self, path: Path) -> str:
        if path in self._seen:
            return self._seen[path]
        self._seen[path] = digest = self._file_hash(path)
        return digest

    def _file_hash(self, path: Path) -> str:
        st = path.stat()
        key = str(path.resolve())
        stamp = [st.st_size, st.st_mtime_ns]
        with self._lock:
            hit = self._memo.get(key)
            if hit and hit[:2] == stamp:
                return hit[2]
        digest = hash_file(path)
        with self._lock:
            self._memo[key] = stamp + [digest]
            self._dirty = True
        return digest

    def files_hash(self, paths: list[Path]) -> str:
        """One hash over several files (e.g. a WFDB .hea + .dat pair), order-independent."""
        parts = sorted(f"{p.name}:{self.file_hash(p)}" for p in paths)
        if len(parts) == 1:
            return parts[0].split(":", 1)[1]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    def save(self) -> None:
        if self.memo_path is None or not self._dirty:
            return
        # A per-process temporary name: two extractions sharing a cache may save at the same moment.
        tmp = self.memo_path.with_name(f"{self.memo_path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
        with self._lock:
            try:
                tmp.write_text(json.dumps(self._memo))
                tmp.replace(self.memo_path)
            except OSError:
                tmp.unlink(missing_ok=True)  # the memo only saves rereads; losing it loses nothing
                return
            self._dirty = False
