"""Per-entry claims so that two extraction processes on one store never compute the same entry.

A claim is a small file created with ``O_CREAT | O_EXCL`` (atomic on local and NFSv3+ file
systems) beside the cache. The holder computes and writes the entry, then deletes the claim.
Another process that finds the claim skips the entry and reports it as "claimed elsewhere". A
claim whose process is dead (same host) or older than ``stale_after_s`` (other hosts) is stolen,
so a killed run never blocks the next one. Stores given as fsspec URLs have no claims: run one
Dask cluster against them instead of several independent processes.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class EntryClaims:
    """Claims for the entries of one cache location."""

    def __init__(self, cache_location: str, stale_after_s: float = 6 * 3600) -> None:
        self.root = None if "://" in cache_location else Path(cache_location).with_name(Path(cache_location).name + ".claims")
        self.stale_after_s = stale_after_s
        self.host = socket.gethostname()

    def _path(self, group: str, recording: str, stream: str) -> Path:
        assert self.root is not None
        return self.root / group / f"{recording}__{stream}.claim"

    def acquire(self, group: str, recording: str, stream: str) -> bool:
        """True when this process now owns the entry; False when a live process holds it."""
        if self.root is None:
            return True
        path = self._path(group, recording, stream)
        path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if not self._is_stale(path):
                    return False
                path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as f:
                json.dump({"pid": os.getpid(), "host": self.host, "time": time.time()}, f)
            return True
        return False

    def _is_stale(self, path: Path) -> bool:
        try:
            info = json.loads(path.read_text() or "{}")
        except (OSError, ValueError):
            info = {}
        if not info:  # being written this instant, or torn by a kill: judge by age
            try:
                return time.time() - path.stat().st_mtime > 60
            except FileNotFoundError:
                return True
        if info.get("host") == self.host:
            return not _pid_alive(int(info.get("pid", -1)))
        return time.time() - float(info.get("time", 0)) > self.stale_after_s

    def release(self, group: str, recording: str, stream: str) -> None:
        if self.root is not None:
            self._path(group, recording, stream).unlink(missing_ok=True)
