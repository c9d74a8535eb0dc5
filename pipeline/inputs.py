"""The input files behind each cache entry, and whether they still match what was extracted.

Each entry records the content hash of the file(s) it was computed from. Stage two checks them
where the manifest's files are reachable, so a recording edited after extraction is reported with
the command that rebuilds it, and skips the check (saying so once) where they are not: a cache
copied to a laptop without the raw data still trains.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.cache import FeatureCache, GroupInfo
from pipeline.errors import CacheError
from pipeline.fingerprint import InputHasher, fingerprint
from pipeline.manifest import Manifest, Stream
from pipeline.resolve import build_command

_log = logging.getLogger(__name__)


def input_files(stream: Stream) -> list[Path]:
    """Every file a stream's numbers depend on (a WFDB record is a header and a data file)."""
    if stream.format == "wfdb":
        base = stream.path.with_suffix("")
        return [p for p in (base.with_suffix(".hea"), base.with_suffix(".dat")) if p.exists()] or [base.with_suffix(".hea")]
    if stream.format == "set":
        fdt = stream.path.with_suffix(".fdt")
        return [stream.path] + ([fdt] if fdt.exists() else [])
    return [stream.path]


def stream_settings(stream: Stream) -> dict[str, Any]:
    """The manifest fields of a stream that change its extracted numbers, where they differ from the
    defaults: ``format`` (other than the one its extension implies), ``sfreq``, ``channels``,
    ``offset_s`` and ``options`` (``crop_s``, ``line_freq_hz``, ``bad_channels``, ...)."""
    from pipeline.manifest import EXTENSION_FORMATS

    out: dict[str, Any] = {}
    if stream.format != EXTENSION_FORMATS.get(stream.path.suffix.lower()):
        out["format"] = stream.format
    if stream.sfreq is not None:
        out["sfreq"] = float(stream.sfreq)
    if stream.channels is not None:
        out["channels"] = list(stream.channels)
    if stream.offset_s:
        out["offset_s"] = float(stream.offset_s)
    if stream.options:
        out["options"] = dict(stream.options)
    return out


def stream_key(stream: Stream) -> str:
    """Canonical hash of ``stream_settings``, part of each entry's key next to the input files' hash.
    "" when every field is at its default: an entry written before this key existed still matches a
    stream with default settings, and re-extracts once for a stream with settings (what they were
    when it was written is unknown)."""
    settings = stream_settings(stream)
    return fingerprint(settings) if settings else ""


def entry_matches(mark: dict[str, Any] | None, input_hash: str, stream: Stream) -> bool:
    """An entry is reusable when its input files and its stream's extraction settings are unchanged."""
    return (mark is not None and mark.get("input_hash") == input_hash
            and mark.get("stream_key", "") == stream_key(stream))


def hash_memo_path(cache_location: str) -> Path | None:
    """Where the (size, mtime) -> content hash memo of a local cache's inputs lives (None: remote)."""
    if "://" in cache_location:
        return None
    p = Path(cache_location)
    return p.with_name("." + p.name + ".input-hashes.json")


@dataclass
class InputCheck:
    """Outcome of ``check_inputs``: (recording, stream) pairs checked, changed and not reachable."""

    group: str
    command: str
    checked: list[tuple[str, str]] = field(default_factory=list)
    changed: list[tuple[str, str]] = field(default_factory=list)
    unreachable: list[tuple[str, str]] = field(default_factory=list)

    def message(self) -> str:
        """One sentence naming the changed recordings and the command that rebuilds them."""
        names = ", ".join(f"{r}/{s}" for r, s in self.changed[:5]) + (" ..." if len(self.changed) > 5 else "")
        return (f"{self.group}: {len(self.changed)} recording(s) changed since extraction ({names}). "
                f"Rebuild them with `{self.command}` (only changed recordings are re-extracted).")


def check_inputs(cache: FeatureCache, manifest: Manifest, group: GroupInfo, streams: list[str] | None = None,
                 hasher: InputHasher | None = None, strict: bool = True,
                 log_unreachable: bool = True) -> InputCheck:
    """Compare reachable input files with the hashes recorded in the group's entries.

    Unreachable files are skipped (one log line for the lot, unless ``log_unreachable`` is False
    because the caller says it once for several groups); a changed file raises CacheError with the
    rebuild command when ``strict``, else is listed in the result.
    """
    hasher = hasher or InputHasher(hash_memo_path(cache.location))
    marks = cache.complete_entries(group.path)
    result = InputCheck(group=group.path, command=build_command(group.modality, group.extractor, group))
    for rec in manifest.recordings:
        for stream in rec.streams_of(group.modality):
            key = (rec.id, stream.name)
            if (streams is not None and stream.name not in streams) or key not in marks:
                continue  # absent entries are check_complete's business
            if marks[key].get("stream_key", "") != stream_key(stream):
                result.changed.append(key)  # the manifest's extraction settings changed: no file needed to tell
                continue
            files = input_files(stream)
            if not all(p.is_file() for p in files):
                result.unreachable.append(key)
                continue
            result.checked.append(key)
            if hasher.files_hash(files) != marks[key].get("input_hash"):
                result.changed.append(key)
    hasher.save()
    if result.unreachable and log_unreachable:
        _log.warning("%s: input files of %d of %d recording stream(s) are not reachable (e.g. %s); their hashes "
                     "were not checked", group.path, len(result.unreachable),
                     len(result.unreachable) + len(result.checked), "/".join(result.unreachable[0]))
    if result.changed and strict:
        raise CacheError(result.message())
    return result
