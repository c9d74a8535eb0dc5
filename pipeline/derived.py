"""Derived cache groups: extractors whose input is other cache groups, not raw files.

A derived extractor (the VATE teacher is the first) declares ``upstream``: the groups it reads,
each by (modality, extractor) and whether it is required. Before any work the runner resolves
them to the groups ``cli extract`` last marked current (``resolve_upstream``); their fingerprints
enter the derived group's identity (``upstream_identity``), so re-extracting an upstream group with
another encoder, weights or seed makes a new derived group and touches nothing else. Each derived
entry's input hash is the identity of the upstream entries it read (``entry_sources``): a
re-extracted upstream entry re-derives that entry only. The lineage is recorded in the group's
attributes (``derived_from``) for ``cli cache ls``.

This module reads the cache only (no extractor, no torch), so stage two may use it too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable

from pipeline.cache import FeatureCache, GroupInfo
from pipeline.current import current_pointers
from pipeline.errors import CacheError
from pipeline.fingerprint import canonical_json
from pipeline.manifest import Manifest, Recording, Stream

LINEAGE_KEY = "derived_from"


@dataclass(frozen=True)
class UpstreamSpec:
    """One cache group a derived extractor reads: its role, where it lives, how to build it."""

    role: str            # e.g. "video", "audio": the name the extractor uses for this input
    modality: str        # cache modality of the upstream group
    extractor: str       # registered name of the upstream extractor
    required: bool       # False: recordings without it get a masked output instead of a failure
    command: str         # the `cli extract ...` command that builds it, named when it is missing


# recording -> [(the stream a derived entry is keyed by, {role: upstream stream name or None})]
Pairing = Callable[[Recording], list[tuple[Stream, dict[str, str | None]]]]


@dataclass(frozen=True)
class DerivedTask:
    """One derived entry to compute: the stream it is keyed by, its upstream entries and their hash."""

    recording: Recording
    stream: Stream
    sources: dict[str, tuple[str, str] | None]   # role -> (group path, stream name), None if absent
    input_hash: str


def resolve_upstream(cache: FeatureCache, specs: tuple[UpstreamSpec, ...], who: str) -> dict[str, GroupInfo]:
    """role -> the current upstream group; a missing required group is a CacheError naming its command."""
    pointers = current_pointers(cache)
    out: dict[str, GroupInfo] = {}
    for spec in specs:
        pointer = pointers.get(spec.modality, {}).get(spec.extractor)
        if pointer is None:
            if spec.required:
                raise CacheError(f"{cache.location}: {who} reads the current '{spec.extractor}' {spec.modality} group, "
                                 f"which is not cached. Build it first with `{spec.command}`.")
            continue
        out[spec.role] = cache.group(pointer["group"])
    return out


def upstream_identity(groups: dict[str, GroupInfo]) -> dict[str, dict[str, str]]:
    """What of the upstream groups enters the derived fingerprint: extractor and fingerprint per role."""
    return {role: {"extractor": g.extractor, "fingerprint": g.fingerprint} for role, g in sorted(groups.items())}


def lineage(groups: dict[str, GroupInfo]) -> list[dict[str, str]]:
    """The group attribute ``derived_from``: one row per upstream group read (``cli cache ls``)."""
    return [{"role": role, "group": g.path, "extractor": g.extractor, "fingerprint": g.fingerprint}
            for role, g in sorted(groups.items())]


def _entry_identity(mark: dict[str, Any] | None, group: GroupInfo) -> dict[str, Any] | None:
    """An upstream entry's identity: its group fingerprint, its own input hash and array checksums
    (not its write time, so re-extracting identical numbers re-derives nothing)."""
    if mark is None:
        return None
    return {"fingerprint": group.fingerprint, "input_hash": mark.get("input_hash"),
            "checksums": mark.get("checksums", {})}


def plan_derived(manifest: Manifest, cache: FeatureCache, group_path: str, specs: tuple[UpstreamSpec, ...],
                 groups: dict[str, GroupInfo], pairing: Pairing, only: tuple[str, ...] | None,
                 ) -> tuple[list[DerivedTask], int, list[dict[str, Any]]]:
    """Derived entries still to compute, the number skipped (unchanged upstream), up-front failures.

    ``pairing(recording) -> [(stream, {role: upstream stream name or None})]`` says which entry each
    recording gets and which upstream entries feed it. A required upstream entry that is missing
    fails that recording with the command that builds it.
    """
    complete = cache.complete_entries(group_path)
    upstream_marks = {role: cache.complete_entries(g.path) for role, g in groups.items()}
    required = {s.role: s for s in specs if s.required}
    tasks: list[DerivedTask] = []
    skipped = 0
    failures: list[dict[str, Any]] = []
    for rec in manifest.recordings:
        if only and rec.id not in only:
            continue
        for stream, names in pairing(rec):
            sources: dict[str, tuple[str, str] | None] = {}
            ident: dict[str, Any] = {}
            for role, g in sorted(groups.items()):
                mark = upstream_marks[role].get((rec.id, names.get(role))) if names.get(role) else None
                sources[role] = (g.path, names[role]) if mark is not None else None
                ident[role] = _entry_identity(mark, g)
            lacking = [r for r in required if sources.get(r) is None]
            if lacking:
                spec = required[lacking[0]]
                failures.append({"recording": rec.id, "stream": stream.name, "stage": "upstream", "status": "failed",
                                 "file": groups[spec.role].path if spec.role in groups else "",
                                 "error_type": "CacheError",
                                 "message": f"{rec.id}/{stream.name}: no complete {spec.extractor} entry to derive from. "
                                            f"Build it with `{spec.command}`."})
                continue
            digest = hashlib.sha256(canonical_json(ident).encode()).hexdigest()
            mark = complete.get((rec.id, stream.name))
            if mark is not None and mark.get("input_hash") == digest:
                skipped += 1
            else:
                tasks.append(DerivedTask(rec, stream, sources, digest))
    return tasks, skipped, failures


def lineage_changes(cache: FeatureCache, group: GroupInfo) -> list[str]:
    """Upstream groups a derived group was made from that are no longer current, one sentence each
    (``[]`` for a group made from files, or one whose upstream is unchanged)."""
    pointers = current_pointers(cache)
    out = []
    for row in group.attrs.get(LINEAGE_KEY, []):
        now = pointers.get(row["group"].split("/", 1)[0], {}).get(row["extractor"])
        if now is not None and now["group"] != row["group"]:
            out.append(f"derived from {row['group']}, but the current {row['extractor']} group is now {now['group']}")
    return out


def check_lineage(cache: FeatureCache, group: GroupInfo) -> None:
    """CacheError when an upstream group a derived group was made from is no longer current: the
    derived numbers then describe features that training no longer uses."""
    changes = lineage_changes(cache, group)
    if changes:
        raise CacheError(f"{cache.location}: {group.path} was {changes[0]}. Rebuild it with "
                         f"`{group.attrs.get('command') or 'cli extract teacher'}`.")
