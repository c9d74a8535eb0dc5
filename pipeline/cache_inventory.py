"""What ``cli cache ls``, ``cli cache verify`` and ``cli cache gc`` report, computed from the store.

The CLI only prints these results. A group is *current* when the last ``cli extract`` of its
(modality, extractor) marked it so (``pipeline.run.current_groups``); gc removes every other group.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipeline.cache import FeatureCache, GroupInfo
from pipeline.derived import LINEAGE_KEY
from pipeline.errors import CacheError, ManifestError
from pipeline.manifest import Manifest, load_manifest

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroupSummary:
    """One row of ``cli cache ls``: which group, how complete, how big, whether current.

    ``expected`` counts the manifest's streams of the modality when a manifest is given, else the
    count the last extraction recorded. ``rebuild`` lists why today's ``cli extract`` would build a
    new group instead of reusing this one (``pipeline.staleness.explain_rebuild``). ``tokens`` is the
    video compaction (tokens and width per segment, before and after), None for other modalities.
    ``derived_from`` is the lineage of a derived group (the upstream groups it was computed from),
    empty for groups made from files.
    """

    group: str
    modality: str
    extractor: str
    fingerprint: str
    config: dict[str, Any] | None
    random_init: bool
    complete: int
    expected: int
    bytes: int
    created: str | None
    current: bool
    tokens: dict[str, Any] | None
    derived_from: tuple[str, ...] = ()
    rebuild: list[str] | None = None   # why today's `cli extract` would rebuild it ([] = it would not; None = not asked)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GroupCheck:
    """``cli cache verify`` for one group: complete entries re-read, and every problem found."""

    group: str
    entries: int
    problems: list[str]


@dataclass(frozen=True)
class GcResult:
    """What ``cli cache gc`` removed (or, with ``dry_run``, would remove), and the bytes freed."""

    removed: list[str]
    kept: list[str]
    bytes: int
    dry_run: bool

    def to_dict(self) -> dict[str, Any]:
        return {"removed": self.removed, "dry_run": self.dry_run, "bytes": self.bytes}


DEFAULT_MANIFEST = Path("data_manifest.yaml")


def locate_cache(manifest_path: Path | None, cache: str | None) -> tuple[FeatureCache, Manifest | None]:
    """The cache to inspect and the manifest that goes with it (None when there is none).

    ``manifest_path`` None means "not given": ``data_manifest.yaml`` is read when it exists, and
    ``cache`` alone is enough when it does not. A manifest that was given must exist and is always
    read: a missing or broken one is reported, never silently ignored. ``cache`` wins over the
    manifest's own; a cache that does not exist is an error, not an empty listing.
    """
    if manifest_path is None:
        if cache is not None and not DEFAULT_MANIFEST.exists():
            _log.info("no manifest given; coverage is counted against the last extraction")
            return _existing(FeatureCache(cache)), None
        manifest_path = DEFAULT_MANIFEST
    if not manifest_path.exists():
        raise ManifestError(["file not found. Pass --manifest PATH, or --cache STORE to inspect a cache "
                             "without its manifest."], str(manifest_path))
    manifest = load_manifest(manifest_path, check_files=False)
    return _existing(FeatureCache(cache or str(manifest.cache))), manifest


def _existing(cache: FeatureCache) -> FeatureCache:
    if not cache.exists():
        raise CacheError(f"{cache.location}: no cache here. Pass --cache with an existing store, or build one "
                         "with `cli extract all`.")
    return cache


def streams_per_modality(manifest: Manifest) -> dict[str, int]:
    """How many streams of each modality the manifest lists: the entries a complete group holds."""
    counts: dict[str, int] = {}
    for rec in manifest.recordings:
        for stream in rec.streams.values():
            counts[stream.kind] = counts.get(stream.kind, 0) + 1
    return counts


def current_paths(cache: FeatureCache) -> set[str]:
    """Paths of the groups that the latest extraction of each (modality, extractor) marked current."""
    from pipeline.run import current_groups

    return {path for by_extractor in current_groups(cache).values() for path in by_extractor.values()}


def _token_counts(describe: dict[str, Any]) -> dict[str, Any] | None:
    """Video token compaction recorded by the extractor: tokens and width per segment, before -> after."""
    if "tokens_before" not in describe:
        return None
    return {k: describe.get(k) for k in ("tokens_before", "tokens_after", "dim_before", "dim_after")}


def _summary(cache: FeatureCache, g: GroupInfo, expected: dict[str, int], current: set[str],
             explain: bool) -> GroupSummary:
    return GroupSummary(group=g.path, modality=g.modality, extractor=g.extractor, fingerprint=g.fingerprint,
                        config=g.identity.get("config"), random_init=g.random_init,
                        complete=len(cache.complete_entries(g.path)),
                        expected=expected.get(g.modality, g.attrs.get("expected", 0)),
                        bytes=cache.size_bytes(g.path), created=g.attrs.get("created"), current=g.path in current,
                        tokens=_token_counts(g.attrs.get("describe") or {}),
                        derived_from=tuple(row["group"] for row in g.attrs.get(LINEAGE_KEY, [])),
                        rebuild=_rebuild_reasons(cache, g) if explain else None)


def _rebuild_reasons(cache: FeatureCache, g: GroupInfo) -> list[str]:
    """``explain_rebuild`` for one group; a group it cannot judge says why instead of failing the listing."""
    from pipeline.staleness import explain_rebuild

    try:
        return explain_rebuild(cache, g)
    except Exception as e:  # one odd group must not hide the others' rows
        _log.debug("explain_rebuild(%s) failed", g.path, exc_info=True)
        return [f"cannot tell ({type(e).__name__}: {e})"]


def list_groups(cache: FeatureCache, manifest: Manifest | None = None, explain: bool = True) -> list[GroupSummary]:
    """Every group of the store, newest first, with coverage against ``manifest`` when given and
    (``explain``) the reasons today's ``cli extract`` would rebuild it."""
    expected = streams_per_modality(manifest) if manifest is not None else {}
    current = current_paths(cache)
    return [_summary(cache, g, expected, current, explain) for g in cache.groups()]


def verify_groups(cache: FeatureCache) -> list[GroupCheck]:
    """Re-read every complete entry of every group and compare its stored checksums."""
    return [GroupCheck(group=g.path, entries=len(cache.complete_entries(g.path)), problems=cache.verify(g.path))
            for g in cache.groups()]


def collect_garbage(cache: FeatureCache, dry_run: bool = False) -> GcResult:
    """Remove every group that is not current (superseded by a later extraction)."""
    keep = current_paths(cache)
    doomed = [g.path for g in cache.groups() if g.path not in keep]
    freed = 0
    for path in doomed:
        freed += cache.size_bytes(path)
        if not dry_run:
            cache.remove_group(path)
            _log.info("removed %s", path)
    return GcResult(removed=doomed, kept=sorted(keep), bytes=freed, dry_run=dry_run)
